"""ylm: the ideas of Youtu-LLM (arXiv 2512.24618) at a scale one laptop can run.

Modules, one idea each:
    ylm.paths      where the repo keeps data, figures and fetched files; the smoke switch
    ylm.data       the committed corpora in data_samples/ by domain and split
"""

__version__ = "0.1.0"
