"""One decode step of one Youtu-2B-shaped MLA layer: ylm absorbed vs ylm naive vs transformers' YoutuAttention.

All three share the same weights and the same past: a random normalised latent c [T, 512] and roped key
k_r [T, 64]. transformers (5.24) keeps exactly that latent in its DynamicCache but decompresses all T
tokens through kv_b_proj on every step and appends with torch.cat; ylm naive keeps decompressed K/V
[16, T, 192 + 128] in a preallocated buffer; ylm absorbed attends over the latent directly.

The memory-traffic floor is (weight bytes + latent cache bytes at T) / measured copy bandwidth: the least
time any MLA decode step can take when it must stream its weights and cache from memory once. The compute
column is the absorbed step's FLOPs / measured square-GEMM rate: absorbed MLA does ~2 H (2 r + d_rope)
FLOPs per cached token (~35k for Youtu-2B, ~15 FLOP per fp32 byte), so on a CPU with few cores it is
bound by arithmetic, not by memory, and the memory floor is out of reach at long context.

    .venv/bin/python benchmarks/bench_decode.py                  # CPU, fp32, contexts 1k/4k/16k
    .venv/bin/python benchmarks/bench_decode.py --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import torch

from ylm.model.accounting import attention_params, kv_bytes_per_token
from ylm.model.attention import MLA
from ylm.model.cache import KVCache, LatentCache
from ylm.model.config import youtu_2b
from ylm.model.hf import to_hf
from ylm.model.rope import RotaryEmbedding
from ylm.timing import copy_bandwidth, gemm_flops_per_second, interleaved_median_seconds

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def build(device: str, dtype: torch.dtype):
    from transformers import YoutuConfig
    from transformers.models.youtu.modeling_youtu import YoutuAttention, YoutuRotaryEmbedding

    cfg = youtu_2b(num_hidden_layers=1)
    hf_cfg = YoutuConfig(**to_hf(cfg))
    hf_cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    hf = YoutuAttention(hf_cfg, layer_idx=0).to(device=device, dtype=dtype).eval()
    ours = MLA(cfg).to(device=device, dtype=dtype).eval()
    ours.load_state_dict(hf.state_dict())
    return cfg, hf_cfg, hf, ours, YoutuRotaryEmbedding(hf_cfg).to(device), RotaryEmbedding(
        cfg.qk_rope_head_dim, cfg.rope_theta).to(device)


@torch.no_grad()
def run_context(t: int, cfg, hf_cfg, hf, ours, hf_rope, rope, device, dtype, repeats: int) -> dict:
    from transformers import DynamicCache

    r, dr, h = cfg.kv_lora_rank, cfg.qk_rope_head_dim, cfg.num_attention_heads
    g = torch.Generator(device="cpu").manual_seed(t)
    c = ours.kv_a_layernorm(torch.randn(1, t, r, generator=g).to(device, dtype))   # the past's latent
    k_rope = torch.randn(1, t, dr, generator=g).to(device, dtype)                  # and its roped key
    x = torch.randn(1, 1, cfg.hidden_size, generator=g).to(device, dtype)          # the new token's input
    pos = torch.tensor([t], device=device)
    cos, sin = rope(pos)

    latent = LatentCache(1, t + 1, r, dr, dtype, device)
    latent.update(c, k_rope, 0)
    kv = KVCache(1, t + 1, h, cfg.qk_head_dim, cfg.v_head_dim, dtype, device)
    full = ours.kv_b_proj(c).view(1, t, h, -1).transpose(1, 2)
    k_nope, v = full.split([cfg.qk_nope_head_dim, cfg.v_head_dim], dim=-1)
    kv.update(torch.cat((k_nope, k_rope[:, None].expand(1, h, t, dr)), dim=-1), v, 0)
    del full, k_nope, v

    hf_cache = DynamicCache(config=hf_cfg)
    hf_cache.update(c.view(1, 1, t, r), k_rope.view(1, 1, t, dr), 0)
    hf_pe = hf_rope(x, pos[None])

    def step_hf():
        return hf(x, position_embeddings=hf_pe, attention_mask=None, cache=hf_cache)[0]

    def step(impl, cache):
        ours.impl = impl
        return ours(x, cos, sin, cache, t)

    out_hf = step_hf()
    hf_cache.crop(-1)
    out_abs, out_naive = step("absorbed", latent), step("naive", kv)
    err = {"absorbed": (out_abs - out_hf).abs().max().item(), "naive": (out_naive - out_hf).abs().max().item()}

    # The three take turns within each repeat, so background load on a shared machine hits them alike.
    steps = {"transformers": step_hf, "ylm_naive": lambda: step("naive", kv),
             "ylm_absorbed": lambda: step("absorbed", latent)}
    sec = interleaved_median_seconds(steps, repeats=repeats, warmup=1, device=device,
                                     between={"transformers": lambda: hf_cache.crop(-1)})
    ours.impl = cfg.attn_impl
    return {"context": t, "seconds": sec, "max_abs_diff_vs_transformers": err,
            "output_scale": out_hf.abs().max().item()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default=None, choices=list(DTYPES), help="default fp32 on cpu, bf16 on cuda")
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here")
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype or ("bf16" if args.device == "cuda" else "fp32")]
    nbytes = torch.empty(0, dtype=dtype).element_size()

    cfg, hf_cfg, hf, ours, hf_rope, rope = build(args.device, dtype)
    bandwidth = copy_bandwidth(device=args.device)
    gemm_rate = gemm_flops_per_second(device=args.device, dtype=dtype)
    weight_bytes = attention_params(cfg) * nbytes
    per_token_latent = kv_bytes_per_token(cfg, nbytes, "absorbed")  # one layer: num_hidden_layers=1
    per_token_naive = kv_bytes_per_token(cfg, nbytes, "naive")

    print(f"# one Youtu-2B MLA layer, batch 1, {args.device} {str(dtype).removeprefix('torch.')}, "
          f"{torch.get_num_threads()} threads, "
          f"{torch.cuda.get_device_name() if args.device == 'cuda' else platform.processor() or platform.machine()}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# load average before the run {load:.2f} (other processes competing for the cores skew timings; "
          "on a shared 2-core machine --threads 1 is the most repeatable)")
    print(f"# copy bandwidth {bandwidth / 1e9:.1f} GB/s; square GEMM {gemm_rate / 1e9:.0f} GFLOP/s; layer weights {weight_bytes / 2**20:.1f} MiB; "
          f"cache per token: latent {per_token_latent} B, expanded {per_token_naive} B")
    head = (f"{'context':>8} {'transformers ms':>16} {'ylm naive ms':>13} {'ylm absorbed ms':>16} "
            f"{'floor ms':>9} {'compute ms':>11} {'tf/absorbed':>12} {'naive/absorbed':>15} {'absorbed/floor':>15} {'max|diff|':>10}")
    print(head)
    rows = []
    for t in args.contexts:
        res = run_context(t, cfg, hf_cfg, hf, ours, hf_rope, rope, args.device, dtype, args.repeats)
        s = res["seconds"]
        floor = (weight_bytes + t * per_token_latent) / bandwidth
        # absorbed FLOPs: the projections (2 per weight) + scores over r + d_rope and values over r, per head
        flops = 2 * attention_params(cfg) + 2 * t * cfg.num_attention_heads * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
        compute = flops / gemm_rate
        res.update(floor_seconds=floor, compute_floor_seconds=compute, floor_naive_layout_seconds=(weight_bytes + t * per_token_naive) / bandwidth,
                   speedup_vs_transformers=s["transformers"] / s["ylm_absorbed"],
                   speedup_vs_naive=s["ylm_naive"] / s["ylm_absorbed"], absorbed_over_floor=s["ylm_absorbed"] / floor)
        rows.append(res)
        diff = max(res["max_abs_diff_vs_transformers"].values())
        print(f"{t:>8} {s['transformers'] * 1e3:>16.2f} {s['ylm_naive'] * 1e3:>13.2f} "
              f"{s['ylm_absorbed'] * 1e3:>16.2f} {floor * 1e3:>9.2f} {compute * 1e3:>11.2f} {res['speedup_vs_transformers']:>11.1f}x "
              f"{res['speedup_vs_naive']:>14.1f}x {res['absorbed_over_floor']:>14.2f}x {diff:>10.1e}")
    print(json.dumps({"bench": "decode", "device": args.device, "dtype": str(dtype).removeprefix("torch."),
                      "threads": torch.get_num_threads(), "copy_bandwidth_GBps": bandwidth / 1e9,
                      "gemm_GFLOPps": gemm_rate / 1e9, "load_average": load,
                      "weight_bytes": weight_bytes, "rows": rows}))


if __name__ == "__main__":
    main()
