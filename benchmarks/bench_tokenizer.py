"""Tokenizer speed: training throughput (HF one-stage BPE, our merge extension, the staged and superword
128K builds) and encode throughput of the kit's tokenizers vs Llama 3 on the same text. Superword pieces are
whole runs between digits and line breaks, so BPE works on longer pieces and its per-piece cache hits less
often; the superword rows measure what that costs per MB. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/bench_tokenizer.py [--vocab-size 32768] [--superword-share 0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from tokenizers import Tokenizer

from ylm.data import DOMAINS, load_texts
from ylm.tokenizer.reference import load_reference
from ylm.tokenizer.staged import byte_vocab, learn_merges, vocab_from_tokenizer, youtu_staged
from ylm.tokenizer.superword import youtu_superword
from ylm.tokenizer.train import TokenizerConfig, train_tokenizer


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--superword-share", type=float, default=0.5, help="transition point (notebook 01 picks 0.5)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    train = [t for d in DOMAINS for t in load_texts(d, "train")]
    text = [t for d in DOMAINS for split in ("train", "heldout") for t in load_texts(d, split)]
    mb_train = sum(len(t.encode()) for t in train) / 1e6
    mb_text = sum(len(t.encode()) for t in text) / 1e6
    config = TokenizerConfig(vocab_size=args.vocab_size, special_slots=16)

    t_hf, ours = best_of(args.repeats, lambda: train_tokenizer(train, config))
    t_ext, grown = best_of(args.repeats, lambda: learn_merges(byte_vocab(), train, config.bpe_size))
    llama = load_reference("llama3")

    def cold_encode(tok) -> tuple[float, int]:
        """Best time to encode all text with a fresh copy each repeat (BPE keeps a per-word cache)."""
        best, n = float("inf"), 0
        for _ in range(args.repeats):
            fresh = Tokenizer.from_str(tok.to_str())
            fresh.encode_special_tokens = True
            t0 = time.perf_counter()
            n = sum(len(e.ids) for e in fresh.encode_batch(text, add_special_tokens=False))
            best = min(best, time.perf_counter() - t0)
        return best, n

    full_config = TokenizerConfig(vocab_size=128_256, special_slots=256)
    reasoning = [t for d in ("stem", "code", "agent") for t in load_texts(d, "train")]
    mb_reasoning = sum(len(t.encode()) for t in reasoning) / 1e6
    o200k = vocab_from_tokenizer(load_reference("o200k"))
    t_staged, (youtu, report) = best_of(
        args.repeats, lambda: youtu_staged(o200k, [reasoning], full_config, base_size=100_000)
    )
    everything = [t for d in (*DOMAINS, "chinese") for t in load_texts(d, "train")]
    t_super, (superword, super_report) = best_of(
        args.repeats,
        lambda: youtu_superword(o200k, [reasoning], everything, full_config, args.superword_share, base_size=100_000),
    )
    t_ours, n_ours = cold_encode(ours)
    t_super_enc, n_super = cold_encode(superword)
    t_youtu, n_youtu = cold_encode(youtu)
    t_llama, n_llama = cold_encode(llama)
    n_merges = len(grown) - 256

    rows = [
        (
            "train: HF tokenizers BpeTrainer",
            f"{mb_train:.2f} MB",
            t_hf,
            mb_train / t_hf,
            f"{ours.get_vocab_size()} entries",
        ),
        (
            "train: ylm merge extension (pure Python)",
            f"{mb_train:.2f} MB",
            t_ext,
            mb_train / t_ext,
            f"{n_merges} merges",
        ),
        (
            "train: staged (o200k base + STEM/code stage)",
            f"{mb_reasoning:.2f} MB",
            t_staged,
            mb_reasoning / t_staged,
            f"{report['learned_stage1']} merges learned, 128,256 entries",
        ),
        (
            f"encode: ours ({args.vocab_size})",
            f"{mb_text:.2f} MB",
            t_ours,
            mb_text / t_ours,
            f"{n_ours} tokens",
        ),
        (
            "encode: ours staged (128,256)",
            f"{mb_text:.2f} MB",
            t_youtu,
            mb_text / t_youtu,
            f"{n_youtu} tokens",
        ),
        (
            f"train: + superword stage (t={args.superword_share:g})",
            f"{sum(len(t.encode()) for t in everything) / 1e6:.2f} MB",
            t_super,
            sum(len(t.encode()) for t in everything) / 1e6 / t_super,
            f"{super_report['superwords']} superwords, 128,256 entries",
        ),
        (
            "encode: ours staged + superwords (128,256)",
            f"{mb_text:.2f} MB",
            t_super_enc,
            mb_text / t_super_enc,
            f"{n_super} tokens",
        ),
        ("encode: Llama 3 (128,256)", f"{mb_text:.2f} MB", t_llama, mb_text / t_llama, f"{n_llama} tokens"),
    ]
    print(f"{'step':46s} {'input':>9s} {'seconds':>8s} {'MB/s':>7s}  note")
    for name, size, secs, rate, note in rows:
        print(f"{name:46s} {size:>9s} {secs:8.2f} {rate:7.2f}  {note}")
    print(
        json.dumps(
            {
                "bench": "tokenizer",
                "machine": platform.processor() or platform.machine(),
                "vocab_size": args.vocab_size,
                "train_mb": round(mb_train, 3),
                "encode_mb": round(mb_text, 3),
                "hf_train_mb_per_s": round(mb_train / t_hf, 3),
                "ylm_extend_mb_per_s": round(mb_train / t_ext, 3),
                "ylm_extend_merges_per_s": round(n_merges / t_ext, 1),
                "staged_128k_build_s": round(t_staged, 2),
                "staged_128k_learned_merges": report["learned_stage1"],
                "encode_ours_mb_per_s": round(mb_text / t_ours, 3),
                "encode_ours_staged_128k_mb_per_s": round(mb_text / t_youtu, 3),
                "encode_llama3_mb_per_s": round(mb_text / t_llama, 3),
                "tokens_ours": n_ours,
                "tokens_ours_staged_128k": n_youtu,
                "tokens_llama3": n_llama,
                "superword_share": args.superword_share,
                "superword_128k_build_s": round(t_super, 2),
                "encode_superword_128k_mb_per_s": round(mb_text / t_super_enc, 3),
                "tokens_superword_128k": n_super,
                "superword_vs_llama3_encode_time_ratio": round(t_super_enc / t_llama, 3),
                "superword_vs_llama3_token_ratio": round(n_super / n_llama, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
