"""Packed next-token batches drawn from the curriculum's domains by mixture weight.

Every domain is a ``DocumentSource``: documents as ``(ids, mask)`` forever, epoch ``k`` visiting them in a
permutation seeded by ``(seed, domain, k)``. Text domains (general, stem, code) are the ``train`` split
encoded as plain text (``encode_plain``: a special token's spelling in a document is ordinary text), mask all
1. The agent domain is the committed synthetic set rendered with its loss mask, plus ``FRESH_MATH_PER_EPOCH``
math trajectories synthesized anew for every epoch, so a long stage 4 does not loop over a few hundred
examples. Documents are encoded the first time they are drawn, so building a sampler only reads files.

``PackedSampler`` packs them into one stream and cuts the stream into rows::

    stream = doc_1 SEP doc_2 SEP doc_3 ...        SEP = <|end_of_text|>; each doc from the domain furthest behind
    row r  = stream[r*T : r*T + T + 1]            rows overlap by one token
    input_ids = row[:-1], labels = row[1:], loss_mask[t] = m(row[t + 1])

* **Weights are token shares** (as the paper states its mixtures: "about 60% of the tokens"). The next
  document comes from the domain furthest below its share of the tokens drawn since the mixture was set,
  ``argmax_d  w_d (N + 1) - N_d`` (N tokens so far, N_d from domain d; ties in ``DOMAINS`` order). Drawing
  documents at random by weight would instead give domain d the share ``w_d L_d / sum_e w_e L_e`` (L = mean
  document length): a 0.6 weight on short trajectories gave 29% of the tokens. The draw is deterministic; the
  order of documents within a domain is the seeded permutation. ``tokens_drawn()`` reports what a run got.
* **Separator.** A separator follows every document, so causal attention over a row crosses a document
  boundary only through a separator. A document whose last token already is the separator gets no second
  one: a rendered trajectory ends with its last assistant turn's ``<|end_of_text|>``, which is the boundary.
* **Mask rule.** ``m`` is 1 for text tokens and for an appended separator (the model learns to end
  documents) and ``render(...).mask`` for trajectory tokens: a label whose target the environment, the user
  or the system wrote carries no loss.
* **Splits.** A document longer than the room left in a row is split; its remainder opens the next row (the
  next batch's first after a batch's last), before any new draw. Because consecutive rows share one token, the label at a split is
  kept, ``labels`` run on across rows (``labels[r, -1] == input_ids[r + 1, 0]``), and every stream token
  after the first is a label exactly once: nothing is dropped.

``state_dict`` holds the RNG, each source's epoch and position, the leftover partial document, the mixture,
``seq_len`` and the counters; a sampler loaded from it yields exactly the batches the original would have.
"""

from __future__ import annotations

import copy
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from ylm.agent.render import render
from ylm.agent.synth import CATEGORIES, SynthConfig, load_synthetic, synthesize
from ylm.agent.trajectory import Trajectory
from ylm.checks import check_int
from ylm.data import DOMAINS, load_texts
from ylm.tokenizer.special_tokens import EOS
from ylm.tokenizer.train import encode_plain, special_id

AGENT = "agent"
FRESH_MATH_PER_EPOCH = 120  # as many as the committed math set; math is the cheapest generator (~25 ms for 120)
STATE_KEYS: tuple[str, ...] = ("seed", "mixture", "seq_len", "mixture_tokens", "sources", "leftover",
                               "tokens_drawn")
COUNTERS: tuple[str, ...] = ("documents", "tokens", "supervised")


def separator_id(tokenizer: Tokenizer) -> int:
    """Id of ``<|end_of_text|>``, which separates documents; a ValueError when the tokenizer has none."""
    return special_id(tokenizer, EOS)


def check_domain(domain: Any, field: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"{field}: unknown domain {domain!r}; valid domains are: {', '.join(DOMAINS)}")


def _seed_sequence(seed: int, domain: str, epoch: int, *extra: int) -> np.random.SeedSequence:
    # crc32 of the name, not its index in DOMAINS: a domain's stream stays put if the tuple is reordered
    return np.random.SeedSequence([seed, zlib.crc32(domain.encode()), epoch, *extra])


class DocumentSource:
    """One domain's ``train`` documents as ``(ids, mask)`` forever, deterministic for ``seed``.

    The cursor is ``(epoch, position)``: the next document is the one at ``position`` in epoch ``epoch``'s
    permutation. Encodings of committed documents are kept once made; the agent's fresh batch is synthesized
    and rendered only for the current epoch.
    """

    def __init__(self, domain: str, tokenizer: Tokenizer, seed: int, data_dir: Path | None = None) -> None:
        check_domain(domain, "domain")
        check_int("seed", seed, minimum=0)
        self.domain, self.seed, self.tokenizer = domain, seed, tokenizer
        self.epoch = self.position = 0
        if domain == AGENT:
            folder = None if data_dir is None else Path(data_dir) / "synthetic"
            self._base: list[Any] = [t for c in CATEGORIES for t in load_synthetic(c, folder)]
        else:
            self._base = [text for text in load_texts(domain, "train", data_dir) if text]
        if not self._base:
            raise ValueError(f"domain {domain!r} has no non-empty train documents")
        self._encoded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._epoch_cache: tuple[int, np.ndarray, list[Trajectory]] | None = None

    def _epoch(self) -> tuple[np.ndarray, list[Trajectory]]:
        """This epoch's permutation and fresh trajectories; a new epoch drops the last one's fresh renders."""
        if self._epoch_cache is None or self._epoch_cache[0] != self.epoch:
            fresh = self._fresh(self.epoch)
            order = np.random.default_rng(_seed_sequence(self.seed, self.domain, self.epoch))
            self._epoch_cache = (self.epoch, order.permutation(len(self._base) + len(fresh)), fresh)
            for index in [k for k in self._encoded if k >= len(self._base)]:
                del self._encoded[index]
        return self._epoch_cache[1], self._epoch_cache[2]

    def _fresh(self, epoch: int) -> list[Trajectory]:
        if self.domain != AGENT:
            return []
        synth_seed = int(_seed_sequence(self.seed, self.domain, epoch, 1).generate_state(1, np.uint64)[0])
        return synthesize("math", SynthConfig(seed=synth_seed, n_math=FRESH_MATH_PER_EPOCH))[0]

    def _encode(self, item: str | Trajectory) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(item, str):
            ids = np.array(encode_plain(self.tokenizer, item), dtype=np.int32)
            return ids, np.ones(len(ids), dtype=np.int8)
        rendered = render(item, self.tokenizer)
        return np.array(rendered.ids, dtype=np.int32), np.array(rendered.mask, dtype=np.int8)

    def next_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The next document as arrays: ids (int32) and 0/1 mask (int8). Advances the cursor."""
        order, fresh = self._epoch()
        if self.position >= len(order):
            self.epoch, self.position = self.epoch + 1, 0
            order, fresh = self._epoch()
        index = int(order[self.position])
        self.position += 1
        if index not in self._encoded:
            item = self._base[index] if index < len(self._base) else fresh[index - len(self._base)]
            self._encoded[index] = self._encode(item)
        return self._encoded[index]

    def next_document(self) -> tuple[list[int], list[int]]:
        """The next document: token ids and its 0/1 loss mask."""
        ids, mask = self.next_arrays()
        return ids.tolist(), mask.tolist()

    def __iter__(self) -> DocumentSource:
        return self

    def __next__(self) -> tuple[list[int], list[int]]:
        return self.next_document()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("epoch", "position"):
            check_int(f"state[{key!r}]", state.get(key) if isinstance(state, dict) else None, minimum=0)
        self.epoch, self.position = state["epoch"], state["position"]


@dataclass
class Piece:
    """A document, or the remainder of one, waiting to be placed in a row."""

    domain: str
    ids: np.ndarray
    mask: np.ndarray


def check_mixture(mixture: Any) -> dict[str, float]:
    """The mixture as ``{domain: float}``: known domains, finite weights >= 0 that sum to 1."""
    if not isinstance(mixture, dict) or not mixture:
        raise ValueError(f"mixture must be a non-empty dict {{domain: weight}}, got {mixture!r}")
    for domain, weight in mixture.items():
        check_domain(domain, "mixture")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"mixture[{domain!r}]={weight!r}: a weight must be a finite number >= 0")
    total = sum(mixture.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"mixture weights sum to {total!r}; they must sum to 1")
    return {domain: float(weight) for domain, weight in mixture.items()}


class PackedSampler:
    """Rows of ``seq_len + 1`` tokens packed from documents drawn by ``mixture`` (see the module docstring).

    ``tokenizer`` must have ``<|end_of_text|>``; ``data_dir`` is where the corpora are (default
    ``ylm.paths.data_dir()``). Construction reads the mixture's files but encodes nothing.
    """

    def __init__(self, tokenizer: Tokenizer, mixture: dict[str, float], seq_len: int, seed: int,
                 data_dir: Path | None = None) -> None:
        self.separator = separator_id(tokenizer)
        check_int("seed", seed, minimum=0)
        self.tokenizer, self.seed, self.data_dir = tokenizer, seed, data_dir
        self._sources: dict[str, DocumentSource] = {}
        self._leftover: Piece | None = None
        self._counts = {domain: dict.fromkeys(COUNTERS, 0) for domain in DOMAINS}
        self.set_seq_len(seq_len)
        self.set_mixture(mixture)

    def set_mixture(self, mixture: dict[str, float]) -> None:
        """Draw the next documents with these weights; cursors and any leftover carry on."""
        self.mixture = check_mixture(mixture)
        # a fixed domain order, not the dict's: the same weights give the same stream however they are written
        self._drawn = [d for d in DOMAINS if self.mixture.get(d, 0) > 0]
        self._mixture_tokens = dict.fromkeys(self._drawn, 0)  # tokens drawn per domain under this mixture
        for domain in self._drawn:
            self._source(domain)

    def set_seq_len(self, seq_len: int) -> None:
        """Cut the next rows at ``seq_len`` tokens; cursors and any leftover carry on."""
        check_int("seq_len", seq_len, minimum=2)
        self.seq_len = seq_len

    def _source(self, domain: str) -> DocumentSource:
        if domain not in self._sources:
            self._sources[domain] = DocumentSource(domain, self.tokenizer, self.seed, self.data_dir)
        return self._sources[domain]

    def _draw(self) -> Piece:
        """A new document, with its separator, from the domain furthest below its token share."""
        drawn = self._mixture_tokens
        total = sum(drawn.values())
        domain = max(self._drawn, key=lambda d: self.mixture[d] * (total + 1) - drawn[d])  # first max on ties
        ids, mask = self._source(domain).next_arrays()
        if ids[-1] != self.separator:
            ids, mask = np.append(ids, self.separator), np.append(mask, np.int8(1))
        drawn[domain] += len(ids)
        self._counts[domain]["documents"] += 1
        return Piece(domain, ids, mask)

    def _fill_row(self, ids: np.ndarray, mask: np.ndarray) -> None:
        width, pos = len(ids), 0
        while pos < width:
            piece = self._leftover or self._draw()
            take = min(len(piece.ids), width - pos)
            ids[pos : pos + take] = piece.ids[:take]
            mask[pos : pos + take] = piece.mask[:take]
            first = 1 if pos == 0 else 0  # a row's first token is nobody's label
            counts = self._counts[piece.domain]
            counts["tokens"] += take - first
            counts["supervised"] += int(piece.mask[first:take].sum())
            pos += take
            # the row's last token opens the next row too (rows overlap by one), so no label is lost
            self._leftover = Piece(piece.domain, piece.ids[take - 1 :], piece.mask[take - 1 :]) \
                if pos == width else None

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``labels`` [B, T] int64, ``loss_mask`` [B, T] float32 (1 = supervised label)."""
        check_int("batch_size", batch_size, minimum=1)
        ids = np.empty((batch_size, self.seq_len + 1), dtype=np.int64)
        mask = np.empty((batch_size, self.seq_len + 1), dtype=np.float32)
        for row in range(batch_size):
            self._fill_row(ids[row], mask[row])
        return {
            "input_ids": torch.from_numpy(np.ascontiguousarray(ids[:, :-1])),
            "labels": torch.from_numpy(np.ascontiguousarray(ids[:, 1:])),
            "loss_mask": torch.from_numpy(np.ascontiguousarray(mask[:, 1:])),
        }

    def tokens_drawn(self) -> dict[str, dict[str, int]]:
        """Per domain: documents drawn, labels placed (``tokens``) and supervised labels."""
        return copy.deepcopy(self._counts)

    def state_dict(self) -> dict[str, Any]:
        """Everything the next batches depend on, JSON-serializable."""
        leftover = self._leftover
        return {
            "seed": self.seed,
            "mixture": dict(self.mixture),
            "seq_len": self.seq_len,
            "mixture_tokens": dict(self._mixture_tokens),
            "sources": {domain: source.state_dict() for domain, source in self._sources.items()},
            "leftover": None if leftover is None else
            {"domain": leftover.domain, "ids": leftover.ids.tolist(), "mask": leftover.mask.tolist()},
            "tokens_drawn": self.tokens_drawn(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (same tokenizer and data assumed); its seed replaces this sampler's."""
        missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
        if missing:
            raise ValueError(f"state is missing {', '.join(missing)}; a state holds {', '.join(STATE_KEYS)}")
        check_int("state['seed']", state["seed"], minimum=0)
        if state["seed"] != self.seed:
            self.seed, self._sources = state["seed"], {}
        self.set_seq_len(state["seq_len"])
        self.set_mixture(state["mixture"])
        for domain, cursor in state["sources"].items():
            check_domain(domain, "state['sources']")
            self._source(domain).load_state_dict(cursor)
        self._mixture_tokens = {d: int(state["mixture_tokens"].get(d, 0)) for d in self._drawn}
        leftover = state["leftover"]
        self._leftover = None if leftover is None else Piece(
            leftover["domain"], np.array(leftover["ids"], dtype=np.int32), np.array(leftover["mask"], dtype=np.int8))
        self._counts = {domain: dict(state["tokens_drawn"][domain]) for domain in DOMAINS}
