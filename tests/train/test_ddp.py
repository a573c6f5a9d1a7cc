"""Data parallel training under torchrun: two CPU processes (gloo) train like one process on the same batches.

Every rank draws the whole global batch of 4 and keeps its 2 rows (``ylm.train.distributed``). Against one
process with ``grad_accum=2`` the micro-batches are the very same rows and shapes, and the all-reduce adds the
two ranks' gradients as accumulation adds the two micro-batches' (a + b: one addition, in either order the
same bits), so the losses agree bit for bit. Against one process with the 4 rows in a single micro-batch the
matmuls reduce over a batch of 4 instead of 2 and the partial sums round differently: agreement to a relative
1e-5 over 6 steps (fp32 rounding is ~6e-8 per operation; Adam's division by sqrt(v) passes small relative
gradient differences on to the weights undamped, hence a margin of a few hundred ulps rather than a few).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import torch
import train_fixtures
from train_fixtures import child_env, losses, tiny_trainer

from ylm.model.hf import load_hf
from ylm.timing import torch_threads
from ylm.train.checkpoint import checkpoint_dir, list_checkpoints

STEPS = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_train_like_one_process(tmp_path):
    spec = {"out": str(tmp_path / "ddp"), "steps": STEPS, "config": {"ckpt_every": 3}}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), train_fixtures.__file__,
               json.dumps(spec)]
    ddp = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr
    assert ddp.stderr == ""
    with torch_threads(1):
        accumulated = tiny_trainer(tmp_path / "accum", grad_accum=2)
        accumulated.run(STEPS)
        whole = tiny_trainer(tmp_path / "whole")
        whole.run(STEPS)

    # rank 0 alone wrote: each step's row once, its checkpoints
    assert [step for step, _ in losses(tmp_path / "ddp")] == list(range(1, STEPS + 1))
    assert [p.name for p in list_checkpoints(tmp_path / "ddp" / "checkpoints")] == ["step-00000003",
                                                                                    "step-00000006"]
    assert losses(tmp_path / "ddp") == losses(tmp_path / "accum")
    two_ranks = torch.tensor([float(loss) for _, loss in losses(tmp_path / "ddp")])
    one_batch = torch.tensor([float(loss) for _, loss in losses(tmp_path / "whole")])
    torch.testing.assert_close(two_ranks, one_batch, rtol=1e-5, atol=0)
    # the replicas stayed the model one process trains
    trained = load_hf(checkpoint_dir(tmp_path / "ddp" / "checkpoints", STEPS))
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(value, accumulated.model.state_dict()[name], rtol=0, atol=0)
