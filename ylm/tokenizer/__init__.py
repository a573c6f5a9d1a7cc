"""Tokenizer training and compression: byte-level BPE with Youtu-style pre-tokenization, built in stages.

    special_tokens  the Youtu format's special tokens (no dependencies; the agent code spells them from here)
    pretokenize     the pre-tokenization regexes (youtu, o200k, llama3, superword) with digit grouping
    byte_level      GPT-2's byte alphabet: token string <-> raw bytes
    train           one-stage training with HF tokenizers; special tokens; save/load; transformers wrapper
    staged          staged construction: filter a base vocabulary, learn more merges on top, top up
    kit             the kit's cached 8,192-entry tokenizer that the later notebooks train with
    reference       Llama 3, Qwen3 and o200k from the files set-up fetched
    compression     bytes and characters per token, nanochat's table, bits per byte, the paper's claim
    ablations       notebook 01's drivers: digit grouping, vocabulary sweep, one stage vs staged (with intervals)
    superword       the SuperBPE-style stage: merges across spaces and CJK runs after a transition point
    verdict         the claims in source and out of source, equal-size controls, the transition-point sweep

Imports only the top level, never model, agent or train.
"""
