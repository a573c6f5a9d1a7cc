"""Curriculum training: the four-stage schedule, the mixture sampler, the trainer, checkpoints and DDP.

Empty for now: the training issue fills it. It may import every other room (top level, model, tokenizer,
agent); nothing imports it.
"""
