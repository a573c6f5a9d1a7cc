"""Staged BPE: start from an existing vocabulary, drop what the new pre-tokenization cannot produce, and
keep learning merges on new text.

The paper builds its 128,256-entry vocabulary in stages (``paper_facts.md`` §2): the ASCII part of
GPT-4o's o200k vocabulary, minus tokens that are invalid under the stricter pre-tokenization (single digits,
one piece per CJK character), then extra code/math tokens learned on STEM text. HF ``tokenizers`` cannot
continue training an existing BPE model, so this file does that step:

    words   <- unique pre-tokenized pieces of the new corpus, with counts c(w)
    segment <- each word split by the base merges (applied in rank order, exactly as encoding does)
    repeat:  (a, b) = argmax over pairs of  sum_w c(w) * #occurrences of (a, b) in segment(w)
             ties -> smallest (id_a, id_b);  replace a b -> ab in every word that contains it

Pair counts are updated incrementally: merging (a, b) inside a word only changes the pairs next to each
occurrence, so only the words that contain (a, b) are touched (an index pair -> words) and a max-heap with
lazy deletion finds the next best pair. With an empty base (just the 256 bytes) the result is *identical*
to ``tokenizers.trainers.BpeTrainer`` (same merges, same ids, same tie-break), which the tests check.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tokenizers import Tokenizer, models, pre_tokenizers

from ylm.tokenizer.byte_level import token_bytes
from ylm.tokenizer.pretokenize import make_pre_tokenizer
from ylm.tokenizer.train import TokenizerConfig, assemble, nonempty_texts

Pair = tuple[int, int]


@dataclass
class BPEVocab:
    """An ordered byte-level BPE vocabulary: ``tokens[i]`` is id i; ``merges`` in rank order."""

    tokens: list[str]
    merges: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    def to_model(self) -> models.BPE:
        vocab = {t: i for i, t in enumerate(self.tokens)}
        return models.BPE(vocab=vocab, merges=list(self.merges), ignore_merges=False)


def byte_vocab() -> BPEVocab:
    """The 256 byte symbols, sorted by code point: the same ids ``BpeTrainer`` gives its alphabet."""
    return BPEVocab(tokens=sorted(pre_tokenizers.ByteLevel.alphabet()))


def vocab_from_tokenizer(tok: Tokenizer) -> BPEVocab:
    """The BPE vocabulary and merges of a byte-level tokenizer (added/special tokens left out)."""
    import json

    model = json.loads(tok.to_str())["model"]
    if model["type"] != "BPE":
        raise ValueError(f"tokenizer model must be 'BPE', got {model['type']!r}")
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return BPEVocab(tokens=tokens, merges=merges)


def _within_one_char(raw: bytes) -> bool:
    """True for a non-ASCII token that is one UTF-8 character or a piece of one (a lead byte only first)."""
    return min(raw) >= 0x80 and all(x < 0xC0 for x in raw[1:])


def filter_vocab(
    base: BPEVocab,
    pretokenizer: str = "youtu",
    digits: int | None = None,
    ascii_only: bool = False,
    single_chars: bool = True,
    max_size: int | None = None,
) -> tuple[BPEVocab, dict[str, int]]:
    """Keep the 256 bytes plus the base's merged tokens that the new pre-tokenization can produce.

    A merged token survives when (1) with ``ascii_only`` its bytes are all ASCII, or, with ``single_chars``,
    it is one non-ASCII character or a piece of one (the paper's "basic multilingual coverage": whole CJK
    characters, accented letters, emoji, but no multi-character words); (2) its text is a single piece
    under the new pre-tokenizer (so '123' or ' 1' die under single-digit splitting); (3) both halves of its
    merge survived (otherwise encoding could never reach it). At most ``max_size`` entries (>= 256, the
    byte alphabet) are kept, the most frequent (lowest rank) first. Returns the new vocabulary and counts of
    why merges were dropped (per merge: a token kept through another of its merges may still count here).

    A base may hold *several* merges per token: o200k and Qwen3 have one, but Llama 3's HF file lists every
    split (a, b) of a token whose halves are both tokens (280,147 merges for 128,000 tokens). Each token is
    added once, at its first surviving merge; every later merge that spells an already kept token from two
    kept halves is kept too, in rank order, because encoding may reach the token only through that path.
    So ``len(merges)`` can exceed ``len(tokens) - 256``.
    """
    if max_size is not None and max_size < 256:
        raise ValueError(f"max_size must be >= 256 (the byte alphabet) or None, got {max_size}")
    pre = make_pre_tokenizer(pretokenizer, digits)
    out = byte_vocab()
    kept = set(out.tokens)
    dropped = Counter()
    for a, b in base.merges:
        new = a + b
        if new in kept:  # another merge path to a kept token: keep it when both halves exist
            if a in kept and b in kept:
                out.merges.append((a, b))
            continue
        if max_size is not None and len(out.tokens) >= max_size:
            dropped["over max_size"] += 1
            continue
        raw = token_bytes(new)
        if ascii_only and max(raw) >= 128 and not (single_chars and _within_one_char(raw)):
            dropped["non-ASCII"] += 1
        elif len(pre.pre_tokenize_str(raw.decode("utf-8", errors="replace"))) != 1:
            dropped["not one pre-token"] += 1
        elif a not in kept or b not in kept:
            dropped["parent dropped"] += 1
        else:
            out.tokens.append(new)
            out.merges.append((a, b))
            kept.add(new)
    return out, dict(dropped)


def _word_counts(texts: Iterable[str], pre: pre_tokenizers.PreTokenizer) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        counts.update(piece for piece, _ in pre.pre_tokenize_str(text))
    return counts


def _segment(words: list[str], vocab: BPEVocab, ids: dict[str, int]) -> list[list[int]]:
    """Split every word with the base merges, using the BPE model itself (rank-order, like encoding)."""
    if not vocab.merges:
        return [[ids[ch] for ch in w] for w in words]
    model = vocab.to_model()
    return [[t.id for t in model.tokenize(w)] for w in words]


def learn_merges(
    base: BPEVocab,
    texts: Iterable[str],
    bpe_size: int,
    pretokenizer: str = "youtu",
    digits: int | None = None,
    min_frequency: int = 2,
) -> BPEVocab:
    """Continue BPE training from ``base`` on ``texts`` until the vocabulary has ``bpe_size`` entries."""
    if bpe_size < len(base):
        raise ValueError(f"bpe_size ({bpe_size}) must be >= the base vocabulary size ({len(base)})")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    texts = nonempty_texts(texts)
    tokens, merges = list(base.tokens), list(base.merges)
    ids = {t: i for i, t in enumerate(tokens)}
    counted = _word_counts(texts, make_pre_tokenizer(pretokenizer, digits))
    word_strs = list(counted)
    freqs = [counted[w] for w in word_strs]
    words = _segment(word_strs, BPEVocab(tokens, merges), ids)

    pair_counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, word in enumerate(words):
        f = freqs[i]
        for pair in zip(word, word[1:], strict=False):
            pair_counts[pair] += f
            where[pair].add(i)
    # Max-heap on (count, then smallest pair) via negated counts; entries may be stale (lazy deletion).
    heap = [(-c, p) for p, c in pair_counts.items() if c > 0]
    heapq.heapify(heap)

    while len(tokens) < bpe_size and heap:
        neg, pair = heapq.heappop(heap)
        count = pair_counts[pair]
        if -neg != count:  # stale entry: counts only fall, so re-queue with the true count
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        if count < min_frequency:
            break
        a, b = pair
        new_str = tokens[a] + tokens[b]
        new_id = ids.get(new_str)
        if new_id is None:  # the same string may already exist via another merge path: reuse its id
            new_id = len(tokens)
            tokens.append(new_str)
            ids[new_str] = new_id
        merges.append((tokens[a], tokens[b]))
        pair_counts[pair] = 0
        touched: set[Pair] = set()
        for wi in where.pop(pair):
            _merge_word(words, wi, a, b, new_id, freqs[wi], pair_counts, where, touched)
        for p in touched:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
    return BPEVocab(tokens=tokens, merges=merges)


def _merge_word(words, wi, a, b, new_id, f, pair_counts, where, touched) -> None:
    """Replace every non-overlapping (a, b) in word ``wi`` left to right, updating neighbour pair counts."""
    word = words[wi]
    n = len(word)
    if n < 2:
        return
    out: list[int] = []
    i = 0
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            if out:
                left = out[-1]
                pair_counts[(left, a)] -= f
                new_left = (left, new_id)
                pair_counts[new_left] += f
                where[new_left].add(wi)
                touched.add(new_left)
            if i + 2 < n:
                right = word[i + 2]
                pair_counts[(b, right)] -= f
                new_right = (new_id, right)
                pair_counts[new_right] += f
                where[new_right].add(wi)
                touched.add(new_right)
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    words[wi] = out


def extend_tokenizer(base: BPEVocab, texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """One extension stage: learn merges on ``texts`` on top of ``base`` up to ``config.vocab_size``."""
    config.validate()
    vocab = learn_merges(base, texts, config.bpe_size, config.pretokenizer, config.digits, config.min_frequency)
    return assemble(vocab.to_model(), config)


def top_up(vocab: BPEVocab, source: BPEVocab, size: int) -> tuple[BPEVocab, int]:
    """Append ``source``'s merges in rank order (skipping tokens already present, and merges whose halves
    are absent) until ``vocab`` has ``size`` entries. Returns the new vocabulary and how many were added.

    Further ``source`` merges that spell a token added here (another split of it) are kept too, as in
    ``filter_vocab``."""
    tokens, merges = list(vocab.tokens), list(vocab.merges)
    present = set(tokens)
    added_here: set[str] = set()
    for a, b in source.merges:
        if a not in present or b not in present:
            continue
        if a + b in added_here:
            merges.append((a, b))
        elif a + b not in present and len(tokens) < size:
            tokens.append(a + b)
            merges.append((a, b))
            present.add(a + b)
            added_here.add(a + b)
    return BPEVocab(tokens, merges), len(added_here)


def youtu_staged(
    source: BPEVocab,
    stage_texts: list[Iterable[str]],
    config: TokenizerConfig,
    base_size: int = 100_000,
) -> tuple[Tokenizer, dict[str, object]]:
    """The paper's construction: ASCII (+ single-character) subset of ``source`` (o200k) valid under the new
    pre-tokenization, cut to its ``base_size`` most frequent entries (256 <= base_size <= config.bpe_size,
    as the 256 bytes must stay); then merges learned on each text stage in turn (e.g. STEM+code); then, if a
    small corpus runs out of pairs seen ``min_frequency`` times before ``config.bpe_size``, the next valid
    ``source`` entries fill the remaining slots.
    """
    config.validate()
    vocab, report = youtu_staged_vocab(source, stage_texts, config, base_size)
    return assemble(vocab.to_model(), config), report


def youtu_staged_vocab(
    source: BPEVocab, stage_texts: list[Iterable[str]], config: TokenizerConfig, base_size: int = 100_000
) -> tuple[BPEVocab, dict[str, object]]:
    """``youtu_staged``'s vocabulary before assembly (so a later stage can continue from it), and its report."""
    if not 256 <= base_size <= config.bpe_size:
        raise ValueError(
            f"base_size must be in [256, config.bpe_size = {config.bpe_size}] (at least the byte alphabet), "
            f"got {base_size}"
        )
    stage_texts = _stage_list(stage_texts, "stage_texts")
    pool, dropped = filter_vocab(source, config.pretokenizer, config.digits, ascii_only=True)
    base_tokens = pool.tokens[:base_size]
    in_base = set(base_tokens)  # a merge's halves come before its token, so they are in the base too
    base = BPEVocab(base_tokens, [m for m in pool.merges if m[0] + m[1] in in_base])
    report: dict[str, object] = {"valid_in_source": len(pool), "dropped": dropped, "base": len(base)}
    vocab = base
    for k, texts in enumerate(stage_texts):
        before = len(vocab)
        vocab = learn_merges(
            vocab, texts, config.bpe_size, config.pretokenizer, config.digits, config.min_frequency
        )
        report[f"learned_stage{k + 1}"] = len(vocab) - before
    vocab, report["topped_up"] = top_up(vocab, pool, config.bpe_size)
    report["bpe_size"] = len(vocab)
    return vocab, report


def _stage_list(stages: list, field: str) -> list:
    """Refuse the easy slip of passing one corpus (a str or a list of str) where a list of stages is due."""
    if not isinstance(stages, str | bytes):
        stages = list(stages)
    if isinstance(stages, str | bytes) or any(isinstance(s, str | bytes) for s in stages):
        raise ValueError(
            f"{field} must be a list with one entry per stage (each a list of documents), got a str "
            f"{'' if isinstance(stages, str | bytes) else 'entry '}instead; wrap a single corpus as [texts]"
        )
    return stages


def train_staged(
    stages: list[tuple[Iterable[str], int]], config: TokenizerConfig, base: BPEVocab | None = None
) -> tuple[Tokenizer, list[int]]:
    """Several stages in a row: stage k learns merges on its texts until the BPE part has ``size_k`` entries.

    The last stage's size is normally ``config.bpe_size``. Returns the tokenizer and the BPE size reached
    after each stage (a stage stops early when no pair reaches ``min_frequency``).
    """
    config.validate()
    vocab = base or byte_vocab()
    reached = []
    for k, (texts, size) in enumerate(stages):
        if size > config.bpe_size:
            raise ValueError(f"stage size {size} exceeds config.bpe_size {config.bpe_size}")
        texts = nonempty_texts(texts, f"stages[{k}] texts")
        vocab = learn_merges(vocab, texts, size, config.pretokenizer, config.digits, config.min_frequency)
        reached.append(len(vocab))
    return assemble(vocab.to_model(), config), reached
