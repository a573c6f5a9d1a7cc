"""Train a Youtu-shaped MLA model through the paper's four-stage curriculum on the kit's corpora.

Usage (one process, or one per device under torchrun; the global batch stays --batch-size)::

    python scripts/train.py --out runs/tiny --preset tiny_mla --total-tokens 2000000 --seq-len 256 \\
        --model max_position_embeddings=256 --batch-size 16 --eval-every 50 --ckpt-every 100
    python scripts/train.py ... --resume                     # continue from the newest checkpoint in --out
    torchrun --nproc_per_node 2 scripts/train.py ...         # data parallel: gloo on CPU, NCCL on CUDA

The model's vocabulary is the kit tokenizer's; ``--model key=value`` overrides any other preset field (values
read as JSON, else as strings). Every ``TrainConfig`` field is a flag (``--grad-accum``, ``--dtype bf16`` ...).
Writes ``metrics.csv``, ``eval.csv`` and ``checkpoints/`` under ``--out`` (``ylm.train.trainer``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ModelConfig, small_mla, tiny_mla
from ylm.tokenizer.kit import kit_tokenizer
from ylm.tokenizer.special_tokens import BOS, EOS
from ylm.train.curriculum import PAPER_LENGTH_STEPS, paper_curriculum
from ylm.train.distributed import init_from_env, rank, resolve_device, shutdown
from ylm.train.sampler import PackedSampler
from ylm.train.trainer import TrainConfig, Trainer, heldout_set

PRESETS = {"tiny_mla": tiny_mla, "small_mla": small_mla}


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--model {text!r}: expected key=value")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder: CSVs and checkpoints/")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps in all")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny_mla")
    parser.add_argument("--model", type=_override, nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--total-tokens", type=int, required=True)
    parser.add_argument("--seq-len", type=int, default=512, help="the longest length (stages 3-4)")
    parser.add_argument("--peak-lr", type=float, default=3e-3)
    parser.add_argument("--length-steps", type=int, nargs="+", default=list(PAPER_LENGTH_STEPS))
    parser.add_argument("--rope-theta-extension", type=float, default=None)
    train = parser.add_argument_group("training (TrainConfig)")
    for field in dataclasses.fields(TrainConfig):
        default = getattr(TrainConfig(), field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, tuple):
            train.add_argument(flag, type=type(default[0]), nargs=len(default), default=default)
        else:
            train.add_argument(flag, type=type(default), default=default)
    return parser.parse_args(argv)


def build_model(preset: str, overrides: dict[str, Any], vocab_size: int, bos: int, eos: int) -> CausalLM:
    config: ModelConfig = PRESETS[preset](**{"vocab_size": vocab_size, "bos_token_id": bos, "eos_token_id": eos,
                                             **overrides})
    return CausalLM(config)


def main(argv: Sequence[str] | None = None) -> Trainer:
    args = parse_args(argv)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    init_from_env(resolve_device(config.device))
    try:
        tok = kit_tokenizer()
        curriculum = paper_curriculum(args.total_tokens, seq_len=args.seq_len, peak_lr=args.peak_lr,
                                      length_steps=tuple(args.length_steps),
                                      rope_theta_extension=args.rope_theta_extension)
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        model = build_model(args.preset, dict(args.model), tok.get_vocab_size(), tok.token_to_id(BOS),
                            tok.token_to_id(EOS))
        first = curriculum.stages[0]
        sampler = PackedSampler(tok, first.mixture, first.seq_lens[0], seed=config.seed)
        heldout = heldout_set(tok, config.eval_tokens) if config.eval_every else None
        trainer = Trainer(model, curriculum, sampler, config, args.out, heldout=heldout)
        resumed = trainer.resume() if args.resume else None
        if rank() == 0:
            print(f"{model.num_parameters():,} parameters, {curriculum.total_tokens:,} tokens, "
                  f"{'resuming from ' + str(resumed) if resumed else 'from scratch'}", flush=True)
        trainer.run(args.steps)
    finally:
        shutdown()
    return trainer


if __name__ == "__main__":
    main()
