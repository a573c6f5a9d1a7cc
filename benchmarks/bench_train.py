"""Training throughput: one AdamW step (forward, loss, backward, update) of ylm's CausalLM vs transformers'
YoutuForCausalLM, same config, same weights, same batch, in one run.

The default model is notebook 04's: ``toy_mla`` (hidden 192, 4 layers, 4 heads, the kit tokenizer's
8192-token vocabulary, tied embeddings: 3.3M parameters), trained on batches of 8 x 512 tokens in fp32 on
the CPU. Every model starts from the same
weights, sees the same random batch and computes its loss with the same function (next-token cross-entropy
in fp32, as transformers' own); before timing, one forward and backward per model checks that losses and
gradients agree (max |Δloss|, max relative gradient difference per parameter), or the comparison would
not be fair. Each model has its own AdamW. Steps take turns within each repeat
(``ylm.timing.interleaved_seconds``), so background load hits every model alike; on a loaded machine with
few cores ``--threads 1`` gives the most repeatable numbers.

``--attn-impl`` picks ylm's MLA path(s), one row each: ``naive`` decompresses K/V per head and attends with
two matmuls over the whole T x T score matrix (as transformers' SDPA falls back to when d_v != d_qk);
``absorbed`` attends over the shared latent, block-causally for many queries
(``ylm.model.attention.block_causal_latent_attention``). ``--compile`` wraps every
model in ``torch.compile`` and reports each one's compile time (its first step) apart from the timing; a
later run reuses torch's on-disk compile cache, so only a first run's figure is the cold compile.
``--profile ROWS`` prints torch.profiler's top ops per model (one step each).

    .venv/bin/python benchmarks/bench_train.py                       # CPU fp32, batch 8 x 512
    .venv/bin/python benchmarks/bench_train.py --threads 1 --attn-impl absorbed --profile 20
    .venv/bin/python benchmarks/bench_train.py --device cuda --dtype bf16 --batch 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ylm.model.causal_lm import CausalLM
from ylm.model.config import ATTN_IMPLS, ModelConfig, toy_mla
from ylm.model.hf import to_hf
from ylm.timing import interleaved_seconds, quartiles

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
BASELINE = "transformers"


def model_config(args: argparse.Namespace) -> ModelConfig:
    """Notebook 04's ``toy_mla``; ``--hidden`` rescales it with the Youtu-2B ratios (q rank 3/4 d, kv rank d/3,
    MLP 3 d), ``--layers``/``--heads`` override those counts."""
    overrides: dict = {"vocab_size": args.vocab, "max_position_embeddings": max(1024, args.seq_len)}
    if args.hidden is not None:
        d = args.hidden
        overrides.update(hidden_size=d, intermediate_size=3 * d, q_lora_rank=3 * d // 4, kv_lora_rank=d // 3)
    if args.layers is not None:
        overrides["num_hidden_layers"] = args.layers
    if args.heads is not None:
        overrides.update(num_attention_heads=args.heads, num_key_value_heads=args.heads)
    return toy_mla(**overrides)


def build(cfg: ModelConfig, impls: list[str], device: str) -> dict[str, nn.Module]:
    """transformers' model (SDPA attention) and one ylm model per MLA path, all with its weights, in train mode."""
    from transformers import YoutuConfig, YoutuForCausalLM

    hf_cfg = YoutuConfig(**to_hf(cfg))
    hf_cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {BASELINE: YoutuForCausalLM(hf_cfg)}
    for impl in impls:
        ours = CausalLM(cfg.replace(attn_impl=impl))
        ours.load_state_dict(models[BASELINE].state_dict())
        models[f"ylm {impl}"] = ours
    return {name: m.to(device).train() for name, m in models.items()}


def logits_fn(model: nn.Module, compile_model: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """ids [B, T] -> logits [B, T, V] for either model (transformers returns an output object)."""
    call = torch.compile(model) if compile_model else model
    if isinstance(model, CausalLM):
        return call
    return lambda ids: call(input_ids=ids).logits


def next_token_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of token t+1 given tokens <= t, in fp32, as transformers' ``ForCausalLMLoss``: the
    labels are shifted (the last position gets ignore_index), not the logits, so backward never copies them."""
    labels = F.pad(ids[:, 1:], (0, 1), value=-100)
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)


def train_step(model: nn.Module, ids: torch.Tensor, lr: float, dtype: torch.dtype,
               compile_model: bool) -> Callable[[], None]:
    """A closure running one AdamW step on ``ids``: zero the gradients, forward, loss, backward, update."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    forward = logits_fn(model, compile_model)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(ids.device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = next_token_loss(forward(ids), ids)
        loss.backward()
        opt.step()

    return step


def _grad_diff(grads: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> float:
    return max(((grads[k] - g).norm() / g.norm().clamp_min(1e-30)).item() for k, g in ref.items())


def check_same_function(models: dict[str, nn.Module], ids: torch.Tensor,
                        dtype: torch.dtype) -> tuple[dict[str, float], dict[str, float]]:
    """One eager forward + backward per model on the shared weights: each loss, and each model's largest
    relative gradient difference from transformers' over the parameters (the names are the same)."""
    losses, grads = {}, {}
    for name, model in models.items():
        with torch.autocast(ids.device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = next_token_loss(logits_fn(model, compile_model=False)(ids), ids)
        loss.backward()
        losses[name] = loss.item()
        grads[name] = {k: p.grad.clone() for k, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
    return losses, {name: _grad_diff(g, grads[BASELINE]) for name, g in grads.items()}


def compile_seconds(steps: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Wall time of each compiled step's first call: tracing and code generation for forward and backward."""
    seconds = {}
    for name, step in steps.items():
        t0 = time.perf_counter()
        step()
        seconds[name] = time.perf_counter() - t0
    return seconds


def profile(steps: dict[str, Callable[[], None]], rows: int) -> None:
    """Print each model's top ``rows`` ops by self time over one step (torch.profiler)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    for name, step in steps.items():
        with torch_profile(activities=activities) as prof:
            step()
        key = "self_device_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
        print(f"# profile: {name}")
        print(prof.key_averages().table(sort_by=key, row_limit=rows))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=None, help="default: toy_mla's 192")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--heads", type=int, default=None)
    ap.add_argument("--vocab", type=int, default=8192, help="the kit tokenizer's size")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--attn-impl", nargs="+", default=["absorbed", "naive"], choices=ATTN_IMPLS,
                    help="ylm's MLA path(s), one row each")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda if available")
    ap.add_argument("--dtype", default="fp32", choices=list(DTYPES), help="bf16: autocast over fp32 weights")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--compile", action="store_true", help="torch.compile every model")
    ap.add_argument("--profile", type=int, default=0, metavar="ROWS", help="print the top ROWS ops per model")
    args = ap.parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    cfg = model_config(args)
    models = build(cfg, args.attn_impl, args.device)
    ids = torch.randint(0, cfg.vocab_size, (args.batch, args.seq_len),
                        generator=torch.Generator().manual_seed(0)).to(args.device)
    losses, grad_diff = check_same_function(models, ids, dtype)
    loss_diff = max(abs(loss - losses[BASELINE]) for loss in losses.values())
    steps = {name: train_step(m, ids, args.lr, dtype, args.compile) for name, m in models.items()}
    compiled = compile_seconds(steps) if args.compile else None
    tokens = args.batch * args.seq_len

    hw = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    print(f"# {models[BASELINE].num_parameters() / 1e6:.2f}M parameters (hidden {cfg.hidden_size}, "
          f"{cfg.num_hidden_layers} layers, {cfg.num_attention_heads} heads, vocab {cfg.vocab_size}); "
          f"batch {args.batch} x {args.seq_len} tokens; AdamW; {args.device} {args.dtype}, "
          f"{torch.get_num_threads()} threads, {hw}{', torch.compile' if args.compile else ''}")
    print(f"# same function: first-step loss {losses[BASELINE]:.6f}, max |Δloss| {loss_diff:.1e}; max relative "
          "gradient difference " + ", ".join(f"{n} {d:.1e}" for n, d in grad_diff.items() if n != BASELINE))
    if compiled:
        print("# compile (first step) seconds: " + ", ".join(f"{n} {s:.1f}" for n, s in compiled.items()))
    if args.profile:
        profile(steps, args.profile)

    load = [os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")]
    samples = interleaved_seconds(steps, repeats=args.repeats, warmup=args.warmup, device=args.device)
    load.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    print(f"# load average {load[0]:.2f} before timing, {load[1]:.2f} after (other processes on the cores "
          "skew absolute times; the interleaved ratios less so)")
    print(f"{'model':<14} {'ms/step':>9} {'IQR ms':>16} {'tokens/s':>10} {'ratio to ' + BASELINE:>22}")
    rows = []
    base = quartiles(samples[BASELINE])[1]
    for name, secs in samples.items():
        q1, med, q3 = quartiles(secs)
        rows.append({"model": name, "seconds": secs, "median_s": med, "iqr_s": [q1, q3],
                     "tokens_per_s": tokens / med, "ratio_to_transformers": base / med})
        print(f"{name:<14} {med * 1e3:>9.1f} {f'{q1 * 1e3:.1f}-{q3 * 1e3:.1f}':>16} {tokens / med:>10.0f} "
              f"{base / med:>21.2f}x")
    print(json.dumps({"bench": "train", "device": args.device, "dtype": args.dtype,
                      "threads": torch.get_num_threads(), "compile": args.compile, "load_average": load,
                      "parameters": models[BASELINE].num_parameters(), "batch": args.batch,
                      "seq_len": args.seq_len, "config": to_hf(cfg), "first_loss": losses,
                      "max_abs_loss_diff": loss_diff, "max_rel_grad_diff": grad_diff,
                      "compile_seconds": compiled, "rows": rows}))


if __name__ == "__main__":
    main()
