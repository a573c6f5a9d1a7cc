"""ylm: the ideas of Youtu-LLM (arXiv 2512.24618) at a scale one laptop can run.

Modules, one idea each:
    ylm.paths                 where the repo keeps data, figures and fetched files; the smoke switch
    ylm.data                  the committed corpora in data_samples/ by domain and split
    ylm.config                ModelConfig and presets (youtu_2b, tiny/small MLA, GQA baselines)
    ylm.rope                  rotary embeddings (interleaved, half-split, YaRN)
    ylm.layers                RMSNorm, SwiGLU MLP
    ylm.attention             MLA (naive and absorbed paths) and MHA/GQA/MQA
    ylm.cache                 preallocated latent and K/V caches
    ylm.model                 CausalLM with transformers' Youtu parameter names; save_hf/load_hf
    ylm.accounting            analytic parameter counts and KV-cache bytes
    ylm.timing                timers and bandwidth probes for benchmarks
    ylm.tokenizer             byte-level BPE with Youtu-style pre-tokenization and special tokens
    ylm.bpe_extend            staged vocabulary construction (merge extension)
    ylm.reference_tokenizers  Llama 3 / Qwen3 / o200k from files fetched at set-up
    ylm.compression           bytes-per-token evaluation and bits per byte
    ylm.trajectory            agent trajectories: data model and validation
    ylm.chat_format           Youtu chat format, loss masks, parsing, Jinja template
    ylm.synth                 trajectory synthesis with real tools
"""

__version__ = "0.1.0"
