"""The training loop: AdamW steps over global batches, with LR, data mixture and length set by the curriculum.

Loss. A step's global batch (B sequences over all ranks and micro-batches) has per-token losses l_bt and a
0/1 loss mask m_bt; the step minimises the masked mean over the whole batch

    L = sum_{b,t} m_bt * l_bt / N,      N = sum_{b,t} m_bt,      l_bt = -ln p(labels_bt | input_ids_b,<=t)

Each micro-batch backpropagates its own numerator divided by the *global* N (which every rank knows before its
forward, since every rank draws the whole batch: ``ylm.train.distributed``), and the ranks sum their gradients;
so gradient accumulation and DDP give the gradient of one big batch, up to the order of float additions.

A step at ``tokens`` seen: ``(stage, length step, seq_len) = curriculum.locate(tokens)``; a new stage sets the
sampler's mixture (and rebuilds the RoPE table when the stage has a ``rope_theta``), a new length step the
sampler's ``seq_len``; the LR is ``curriculum.lr_at(tokens)``, a pure function of the token count, so a resumed
run needs no scheduler state. Then B rows, the masked loss, one all_reduce, clipping (the pre-clip norm is
logged), AdamW, and ``tokens += B * seq_len``.

Held-out bits per byte per domain (every ``eval_every`` steps; ``ylm.tokenizer.compression.bits_per_byte``)::

    bpb = sum_t l_t / (ln 2 * sum_t bytes(target_t))

over a fixed slice of ``eval_tokens`` targets per domain; special-token targets stand for no text (0 bytes),
so their loss is left out of the sum too.

Outputs under ``out_dir``: ``metrics.csv`` (step, tokens, stage, seq_len, lr, loss, grad_norm, tokens_per_s),
``eval.csv`` (step, tokens, stage, domain, loss, bits_per_byte) and ``checkpoints/step-N/``
(``ylm.train.checkpoint``), every ``ckpt_every`` steps, at the end of each stage and when a run stops. Only
rank 0 writes. The loop reads nothing back from the device except to log: losses and norms stay on the device
and are copied to the host in one transfer every ``log_every`` steps (their ``tokens_per_s`` is that window's).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from ylm.checks import check_int, check_number
from ylm.data import DOMAINS, load_texts
from ylm.model.causal_lm import CausalLM
from ylm.model.rope import RotaryEmbedding
from ylm.notebook import seed_everything
from ylm.paths import write_text_atomic
from ylm.tokenizer.compression import bits_per_byte, token_byte_lengths
from ylm.tokenizer.train import encode_plain
from ylm.train.checkpoint import (
    checkpoint_dir,
    checkpoint_step,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_rng,
    save_checkpoint,
)
from ylm.train.curriculum import Curriculum
from ylm.train.distributed import (
    DEVICES,
    all_reduce_sum_,
    barrier,
    broadcast_from_main_,
    local_rows,
    rank,
    resolve_device,
    world_size,
)
from ylm.train.sampler import separator_id

DTYPES: tuple[str, ...] = ("fp32", "bf16")
METRICS_COLUMNS: tuple[str, ...] = ("step", "tokens", "stage", "seq_len", "lr", "loss", "grad_norm", "tokens_per_s")
EVAL_COLUMNS: tuple[str, ...] = ("step", "tokens", "stage", "domain", "loss", "bits_per_byte")
BATCH_KEYS: tuple[str, ...] = ("input_ids", "labels", "loss_mask")


@dataclass
class TrainConfig:
    """How to train (the curriculum says on what, how long and at which LR). Counts are in optimizer steps."""

    batch_size: int = 16  # global: sequences per optimizer step, over all ranks and micro-batches
    grad_accum: int = 1  # micro-batches per rank and step
    weight_decay: float = 0.1  # on matrices only; norms' gains are not decayed
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global grad norm; 0 = no clipping (the norm is logged either way)
    dtype: str = "fp32"  # "bf16": bf16 autocast over fp32 weights
    device: str = "auto"  # "auto": CUDA when available
    seed: int = 0  # Python, NumPy and torch RNGs (the sampler has its own seed)
    log_every: int = 10  # metrics rows reach the CSV (one device-to-host copy) every this many steps
    eval_every: int = 0  # 0: no held-out evaluation
    eval_tokens: int = 4096  # targets per domain
    eval_seq_len: int = 256
    ckpt_every: int = 0  # 0: checkpoints only at stage ends and when a run stops
    keep_checkpoints: int = 3
    metrics_csv: str = "metrics.csv"  # relative to out_dir (or absolute)
    eval_csv: str = "eval.csv"

    def __post_init__(self) -> None:
        self.validate()
        self.betas = (self.betas[0], self.betas[1])  # a list from JSON or argparse

    def validate(self) -> None:
        """ValueError naming the field and what it allows."""
        for name in ("batch_size", "grad_accum", "log_every", "eval_tokens", "eval_seq_len", "keep_checkpoints"):
            check_int(name, getattr(self, name))
        for name in ("seed", "eval_every", "ckpt_every"):
            check_int(name, getattr(self, name), minimum=0)
        if self.batch_size % self.grad_accum:
            raise ValueError(f"grad_accum={self.grad_accum}: must divide batch_size={self.batch_size}")
        if self.eval_tokens % self.eval_seq_len:
            raise ValueError(f"eval_tokens={self.eval_tokens}: must be a multiple of "
                             f"eval_seq_len={self.eval_seq_len}")
        check_number("weight_decay", self.weight_decay, 0)
        check_number("eps", self.eps, 0, strict=True)
        check_number("grad_clip", self.grad_clip, 0)
        if not (isinstance(self.betas, tuple | list) and len(self.betas) == 2
                and all(check_number("betas", b, 0) < 1 for b in self.betas)):
            raise ValueError(f"betas={self.betas!r}: must be two numbers in [0, 1)")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r}: allowed values are {DTYPES}")
        if self.device not in DEVICES:
            raise ValueError(f"device={self.device!r}: allowed values are {DEVICES}")
        for name in ("metrics_csv", "eval_csv"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name}={getattr(self, name)!r}: must be a non-empty file name")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "betas": list(self.betas)}


class Sampler(Protocol):
    """What the trainer needs of ``ylm.train.sampler.PackedSampler``."""

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]: ...
    def set_mixture(self, mixture: dict[str, float]) -> None: ...
    def set_seq_len(self, seq_len: int) -> None: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def masked_loss_sum(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_t m_t * l_t in fp32: the numerator of the module docstring's L (logits [B, T, V], labels/mask [B, T])."""
    losses = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), reduction="none")
    return (losses * mask.flatten().to(losses.dtype)).sum()


# ---- held-out text ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeldOut:
    """A fixed slice of each domain's held-out text as token ids, and each id's UTF-8 byte length."""

    ids: dict[str, torch.Tensor]  # domain -> [eval_tokens + 1] int64
    byte_lengths: torch.Tensor  # [vocab] int64


def heldout_set(tokenizer: Tokenizer, eval_tokens: int, domains: Sequence[str] = DOMAINS,
                data_dir: Path | None = None) -> HeldOut:
    """The first ``eval_tokens + 1`` ids of each domain's held-out documents, in file order, each encoded as
    plain text and followed by ``<|end_of_text|>`` as the sampler packs training text: the same slice every
    time, so evaluations at different steps compare."""
    check_int("eval_tokens", eval_tokens)
    separator = separator_id(tokenizer)
    ids: dict[str, torch.Tensor] = {}
    for domain in domains:
        stream: list[int] = []
        for text in load_texts(domain, "heldout", data_dir):
            stream += [*encode_plain(tokenizer, text), separator]
            if len(stream) > eval_tokens:
                break
        if len(stream) <= eval_tokens:
            raise ValueError(f"eval_tokens={eval_tokens}: domain {domain!r} has only {len(stream) - 1} "
                             "held-out targets")
        ids[domain] = torch.tensor(stream[:eval_tokens + 1], dtype=torch.int64)
    return HeldOut(ids, torch.tensor(token_byte_lengths(tokenizer), dtype=torch.int64))


# ---- CSV files ---------------------------------------------------------------------------------------------
def _append_rows(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)  # floats go out as repr: they read back bit for bit
        if new:
            writer.writerow(columns)
        writer.writerows(rows)


def _truncate_rows(path: Path, last_step: int) -> None:
    """Drop the rows after ``last_step`` (a killed run's, past the checkpoint its successor resumes from)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [row for row in rows[1:] if int(row[0]) <= last_step]
    if len(kept) < len(rows):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(kept)
        write_text_atomic(path, buffer.getvalue())


@dataclass
class _Row:
    step: int
    tokens: int
    stage: str
    seq_len: int
    lr: float
    loss: torch.Tensor  # on the device until the next flush
    grad_norm: torch.Tensor


# ---- the trainer ---------------------------------------------------------------------------------------------
class Trainer:
    """Trains ``model`` through ``curriculum`` on ``sampler``'s batches (module docstring), writing under
    ``out_dir``. ``heldout`` (``heldout_set``) is needed when ``config.eval_every`` > 0.

    Under ``torchrun`` (process group joined first: ``ylm.train.distributed.init_from_env``) every rank builds
    the same curriculum and sampler (same seed) and starts from rank 0's weights; each trains on its rows of
    every batch."""

    def __init__(self, model: CausalLM, curriculum: Curriculum, sampler: Sampler, config: TrainConfig,
                 out_dir: str | Path, *, heldout: HeldOut | None = None) -> None:
        if config.batch_size % (world_size() * config.grad_accum):
            raise ValueError(f"batch_size={config.batch_size}: must be a multiple of world size * grad_accum = "
                             f"{world_size()} * {config.grad_accum}")
        if config.eval_every and heldout is None:
            raise ValueError(f"eval_every={config.eval_every}: evaluation needs heldout=heldout_set(...)")
        curriculum.validate(model.config.max_position_embeddings)
        if config.eval_every and config.eval_seq_len > model.config.max_position_embeddings:
            raise ValueError(f"eval_seq_len={config.eval_seq_len}: must be <= the model's "
                             f"max_position_embeddings={model.config.max_position_embeddings}")
        self.config, self.curriculum, self.sampler, self.heldout = config, curriculum, sampler, heldout
        self.device = resolve_device(config.device)
        self.is_main = rank() == 0
        seed_everything(config.seed)
        self.model = model.to(self.device).train()
        broadcast_from_main_(list(self.model.parameters()))
        self.optimizer = _adamw(self.model, config)
        self.out_dir = Path(out_dir)
        self.checkpoints = self.out_dir / "checkpoints"
        self.metrics_path, self.eval_path = self.out_dir / config.metrics_csv, self.out_dir / config.eval_csv
        self.step = self.tokens = 0
        self.phase: tuple[int, int] | None = None  # (stage index, length-step index) the sampler is set for
        self._pending: list[_Row] = []
        self._window_start = time.perf_counter()
        self._bar: Any = None

    # ---- resuming ---------------------------------------------------------------------------------------
    def resume(self, checkpoint: str | Path | None = None, *, branch: bool = False) -> Path | None:
        """Continue from ``checkpoint`` (default: the newest under ``out_dir/checkpoints``); returns the one
        loaded, or None when there is none. The curriculum must be the one the checkpoint was trained with.

        ``branch=True`` starts a new arm from another run's checkpoint (say, the end of stage 3): the stages
        already trained must be equal, later ones may differ (a control arm's stage 4 without trajectories),
        and the data come from this trainer's own sampler, so its seed picks the arm's data order."""
        path = checkpoint if checkpoint is not None else latest_checkpoint(self.checkpoints)
        if path is None:
            return None
        state = load_checkpoint(path, self.model, self.optimizer)
        trained = Curriculum.from_dict(state["curriculum"])
        if branch:
            started = state["phase"][0] + 1  # the stage it was in when saved, and every one before
            if trained.stages[:started] != self.curriculum.stages[:started]:
                raise ValueError(f"{path}: its first {started} stages differ from this trainer's curriculum")
        elif trained != self.curriculum:
            raise ValueError(f"{path}: trained with another curriculum than this trainer's")
        self.step, self.tokens = state["step"], state["tokens"]
        self.phase = (state["phase"][0], state["phase"][1])
        stage = self.curriculum.stages[self.phase[0]]
        # the phase's settings first, then the sampler's own state (which may carry them too) on top
        self.sampler.set_mixture(stage.mixture)
        self.sampler.set_seq_len(stage.seq_lens[self.phase[1]])
        if not branch:
            self.sampler.load_state_dict(state["sampler"])
        restore_rng(state["rng"], self.device)
        return Path(path)

    # ---- the loop ---------------------------------------------------------------------------------------
    def run(self, max_steps: int | None = None, max_tokens: int | None = None) -> None:
        """Train until ``max_steps`` optimizer steps or ``max_tokens`` tokens in all (those before a resume
        count) or the end of the curriculum, whichever comes first; a checkpoint is written where it stops.
        ``max_tokens`` at a stage boundary stops a run at that stage's end (a branch point for other arms)."""
        if max_steps is not None:
            check_int("max_steps", max_steps, minimum=0)
        total = self.curriculum.total_tokens
        if max_tokens is not None:
            total = min(total, check_int("max_tokens", max_tokens, minimum=0))
        latest = latest_checkpoint(self.checkpoints)
        if latest is not None and checkpoint_step(latest) > self.step:  # every rank: none may go on alone
            raise ValueError(f"{self.out_dir} holds checkpoints up to {latest.name}, past this trainer's step "
                             f"{self.step}: resume() first, or train into another out_dir")
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for path in (self.metrics_path, self.eval_path):
                _truncate_rows(path, self.step)
        saved_at = self.step
        # TQDM_DISABLE in the environment turns the bar off on rank 0; an explicit disable would override it
        self._bar = tqdm(total=total, initial=self.tokens, unit="tok", unit_scale=True, dynamic_ncols=True,
                         **({} if self.is_main else {"disable": True}))
        self._window_start = time.perf_counter()
        while self.tokens < total and (max_steps is None or self.step < max_steps):
            stage_index, seq_len = self._enter_phase()
            self._step(stage_index, seq_len)
            ends_stage = (self.tokens >= total or self.tokens >= self.curriculum.total_tokens
                          or self.curriculum.locate(self.tokens)[0] != stage_index)
            # every stage end is evaluated too: per-stage held-out numbers are what a curriculum is judged by
            evaluate = bool(self.config.eval_every) and (self.step % self.config.eval_every == 0 or ends_stage)
            save = ends_stage or (bool(self.config.ckpt_every) and self.step % self.config.ckpt_every == 0)
            if self.step % self.config.log_every == 0 or evaluate or save:
                self._flush()
            if evaluate:
                self._log_eval()
            if save:
                self._save()
                saved_at = self.step
            if evaluate or save:  # their time is not training throughput
                self._window_start = time.perf_counter()
        self._flush()
        if self.step != saved_at:
            self._save()
        self._bar.close()
        barrier()  # no rank leaves (and tears down the group) while rank 0 still writes

    def _enter_phase(self) -> tuple[int, int]:
        """Set the sampler (and RoPE) for the phase at ``self.tokens``; (stage index, seq_len)."""
        stage_index, step_index, seq_len = self.curriculum.locate(self.tokens)
        if (stage_index, step_index) != self.phase:
            stage = self.curriculum.stages[stage_index]
            if self.phase is None or stage_index != self.phase[0]:
                self.sampler.set_mixture(stage.mixture)
                if stage.rope_theta is not None:
                    self._set_rope_theta(stage.rope_theta)
            self.sampler.set_seq_len(seq_len)
            self.phase = (stage_index, step_index)
        return stage_index, seq_len

    def _set_rope_theta(self, theta: float) -> None:
        # the config too: a checkpoint's config.json then describes the model as it runs now
        config = self.model.config = self.model.config.replace(rope_theta=float(theta))
        self.model.model.rotary_emb = RotaryEmbedding(config.rope_dim, config.rope_theta, config.rope_scaling,
                                                      config.max_position_embeddings).to(self.device)

    def _step(self, stage_index: int, seq_len: int) -> None:
        """One optimizer step on the next global batch (module docstring)."""
        lr = self.curriculum.lr_at(self.tokens)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.sampler.next_batch(self.config.batch_size)
        expected = (self.config.batch_size, seq_len)
        if tuple(batch["input_ids"].shape) != expected:
            raise ValueError(f"sampler batch of shape {tuple(batch['input_ids'].shape)}: expected {expected}")
        # N, the global target count, from the host copy of the mask: no device round trip, same on every rank
        targets = max(float(batch["loss_mask"].sum()), 1.0)
        loss = torch.zeros((), device=self.device)
        for ids, labels, mask in self._micro_batches(batch):
            with self._autocast():
                logits = self.model(ids)
            part = masked_loss_sum(logits, labels, mask) / targets
            part.backward()
            loss += part.detach()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        all_reduce_sum_([p.grad for p in params] + [loss])
        grad_norm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip or math.inf)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += self.config.batch_size * seq_len
        self._pending.append(_Row(self.step, self.tokens, self.curriculum.stages[stage_index].name, seq_len, lr,
                                  loss, grad_norm))
        self._bar.update(self.config.batch_size * seq_len)

    def _micro_batches(self, batch: dict[str, torch.Tensor]) -> Iterator[tuple[torch.Tensor, ...]]:
        """This rank's rows of ``batch``, in ``grad_accum`` equal micro-batches, on the device."""
        rows = {key: batch[key][local_rows(self.config.batch_size)] for key in BATCH_KEYS}
        size = len(rows["input_ids"]) // self.config.grad_accum
        for start in range(0, len(rows["input_ids"]), size):
            yield tuple(rows[key][start:start + size].to(self.device, non_blocking=True) for key in BATCH_KEYS)

    def _autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.dtype == "bf16")

    # ---- logging, evaluation, checkpoints ------------------------------------------------------------------
    def _flush(self) -> None:
        """Write the pending metrics rows (rank 0), with one device-to-host copy for all of them."""
        rows, self._pending = self._pending, []
        if not rows or not self.is_main:
            return
        values = torch.stack([torch.stack((r.loss, r.grad_norm)) for r in rows]).tolist()
        now = time.perf_counter()
        rate = sum(r.seq_len for r in rows) * self.config.batch_size / max(now - self._window_start, 1e-9)
        self._window_start = now
        _append_rows(self.metrics_path, METRICS_COLUMNS,
                     [(r.step, r.tokens, r.stage, r.seq_len, r.lr, loss, norm, round(rate, 1))
                      for r, (loss, norm) in zip(rows, values, strict=True)])
        self._bar.set_postfix(step=rows[-1].step, loss=f"{values[-1][0]:.4f}", refresh=False)

    @torch.no_grad()
    def evaluate(self) -> dict[str, tuple[float, float]]:
        """(loss in nats per scored target, bits per byte) per held-out domain, for the model as it is now."""
        if self.heldout is None:
            raise ValueError("heldout=None: the trainer was built without held-out text (heldout_set)")
        # as many rows per forward as a training micro-batch: the memory training fits in
        width = self.config.eval_seq_len
        per_pass = self.config.batch_size // (world_size() * self.config.grad_accum)
        self.model.eval()
        results = {}
        for domain, ids in self.heldout.ids.items():
            rows = self.config.eval_tokens // width
            inputs, targets = ids[:rows * width].view(rows, width), ids[1:rows * width + 1].view(rows, width)
            scored = self.heldout.byte_lengths[targets] > 0
            total = torch.zeros((), device=self.device)
            for start in range(0, rows, per_pass):
                part = slice(start, start + per_pass)
                with self._autocast():
                    logits = self.model(inputs[part].to(self.device))
                total += masked_loss_sum(logits, targets[part].to(self.device), scored[part].to(self.device))
            loss_sum = total.item()
            results[domain] = (loss_sum / max(int(scored.sum()), 1),
                               bits_per_byte(loss_sum, targets, self.heldout.byte_lengths))
        self.model.train()
        return results

    def _log_eval(self) -> None:
        if not self.is_main:  # the replicas are identical: one rank measures, the others go on to the next step
            return
        stage = self.curriculum.stages[self.phase[0]].name
        _append_rows(self.eval_path, EVAL_COLUMNS, [(self.step, self.tokens, stage, domain, loss, bpb)
                                                    for domain, (loss, bpb) in self.evaluate().items()])

    def _save(self) -> None:
        if not self.is_main:
            return
        state = {"step": self.step, "tokens": self.tokens, "phase": list(self.phase),
                 "sampler": self.sampler.state_dict(), "curriculum": self.curriculum.to_dict(),
                 "config": self.config.to_dict(), "world_size": world_size()}
        save_checkpoint(checkpoint_dir(self.checkpoints, self.step), self.model, self.optimizer, state)
        prune_checkpoints(self.checkpoints, self.config.keep_checkpoints)


def _adamw(model: CausalLM, config: TrainConfig) -> torch.optim.AdamW:
    # Decay only matrices (embeddings, projections): the norms' gains are scales, and pulling them to 0 fights
    # the normalisation they undo (nanoGPT's split).
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=0.0, betas=config.betas, eps=config.eps)
