"""Curriculum training: the paper's four stages scaled down, and a trainer that runs them.

    schedule     LR as a pure function of the token count: WSD, cosine, per-stage segments
    curriculum   Stage and Curriculum (mixtures, length steps, LR segments); paper_curriculum, describe
    sampler      packed batches drawn by token share per domain, separators, loss masks, exact resume state
    trainer      AdamW, clipping, accumulation, bf16 autocast, CSV metrics, held-out bits per byte, DDP
    checkpoint   atomic checkpoints (weights, optimizer, sampler, RNG) and exact resume
    distributed  torchrun / torch.distributed helpers (gloo on CPU, NCCL on CUDA)
    experiment   notebook 04's arms: branch a control from a stage end, trajectory loss, loss by position
    agent_experiment  notebook 05's runs: equal-budget agent fine-tuning, agentic-token budgets, jobs on both cores

May import every other room (top level, model, tokenizer, agent); nothing imports it.
"""
