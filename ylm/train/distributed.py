"""Data parallelism under ``torchrun``: every rank draws the whole global batch and trains on its own rows.

With B sequences per global batch and W ranks, rank r keeps rows

    [r * B / W, (r + 1) * B / W)

of the batch its sampler drew. Every rank's sampler is built with the same seed and draws all B rows, so the
sampler state and the RNG states are the same on every rank: the checkpoint rank 0 writes resumes under any
world size, and W processes train on exactly the rows one process would (each rank reads W times the data it
trains on, which at this scale costs little next to the model). The ranks' gradients are summed by one
``all_reduce`` of a flat buffer (``all_reduce_sum_``); with the trainer's loss normalised by the whole global
batch's target count, that sum is the one-process gradient up to the order of float additions.

Process group: gloo on CPU, NCCL on CUDA, with ``cuda:LOCAL_RANK`` as each rank's device.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def resolve_device(choice: str) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; on CUDA each torchrun rank gets ``cuda:LOCAL_RANK``."""
    if choice not in DEVICES:
        raise ValueError(f"device={choice!r}: allowed values are {DEVICES}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': torch sees no CUDA device (use 'auto' or 'cpu')")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def init_from_env(device: torch.device) -> None:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1); a plain single
    process (no ``WORLD_SIZE``) joins nothing."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL binds each rank's communicator to its device
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")


def barrier() -> None:
    """Wait for every rank (nothing to wait for in a single process)."""
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def local_rows(batch_size: int) -> slice:
    """This rank's rows of a global batch of ``batch_size`` rows (module docstring)."""
    share = batch_size // world_size()
    return slice(rank() * share, (rank() + 1) * share)


def all_reduce_sum_(tensors: list[torch.Tensor]) -> None:
    """Sum each tensor over all ranks, in place, with one ``all_reduce`` of their concatenation (one round
    trip per step instead of one per parameter)."""
    if world_size() == 1:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    _scatter(flat, tensors)


def broadcast_from_main_(tensors: list[torch.Tensor]) -> None:
    """Give every rank rank 0's values of ``tensors`` (the model's parameters at the start: replicas built
    from different seeds would otherwise take the same summed updates and never meet)."""
    if world_size() == 1:
        return
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    dist.broadcast(flat, src=0)
    _scatter(flat, tensors)


@torch.no_grad()
def _scatter(flat: torch.Tensor, tensors: list[torch.Tensor]) -> None:
    """Copy consecutive pieces of ``flat`` back into ``tensors``."""
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()
