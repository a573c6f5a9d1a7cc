"""The MLA model: a decoder laid out like transformers' ``YoutuForCausalLM``, small enough to read in one sitting.

    config       ModelConfig (Youtu/DeepSeek-V3 field names) and presets youtu_2b, tiny_mla, small_mla, tiny_gqa
    rope         rotary embeddings: interleaved (Youtu) and half-split layouts, YaRN
    layers       RMSNorm and the SwiGLU MLP
    attention    MLA with naive and absorbed paths side by side; MHA/GQA/MQA baselines with the same interface
    cache        preallocated caches: the latent [c; k_r] (absorbed) or expanded K/V
    causal_lm    CausalLM: forward, init_cache, greedy generate, naive vs absorbed check
    hf           from_hf/to_hf config renames; save_hf/load_hf safetensors directories
    accounting   analytic parameter counts and KV-cache bytes; the peer model table
    decode_cost  bytes and FLOPs per cached token, parameter-matched baselines, decode timing (notebook 02)

Imports only the top level (``ylm.paths``, ``ylm.data``, ``ylm.timing``), never tokenizer, agent or train.
"""
