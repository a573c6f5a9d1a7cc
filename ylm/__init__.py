"""ylm: the ideas of Youtu-LLM (arXiv 2512.24618) at a scale one laptop can run.

One folder per idea, plus top-level modules every folder may use; imports only point left:

    top level (paths, data, timing, notebook, checks)  <-  model, tokenizer  <-  agent  <-  train

    ylm.paths       where data, cache and figures live (YLM_DATA_DIR, YLM_CACHE_DIR, YLM_FIGURES_DIR); smoke switch
    ylm.data        the committed corpora in data_samples/ by domain and split
    ylm.timing      timers and bandwidth probes for benchmarks
    ylm.notebook    what every notebook repeats: seeding, saving a figure
    ylm.checks      the argument checks every room shares (a ValueError naming the argument)
    ylm.paper_results  the paper's benchmark numbers (shipped CSV), agentic means, plots with your own rows
    ylm.model       MLA (naive and absorbed), caches, the Youtu-2B-shaped CausalLM, transformers checkpoints
    ylm.tokenizer   Youtu-style pre-tokenization, BPE training, staged construction, compression vs references
    ylm.agent       trajectories, the Youtu chat format with loss masks, parsing, tools, synthesis
    ylm.train       the four-stage curriculum and its trainer
"""

__version__ = "0.1.0"
