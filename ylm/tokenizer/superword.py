"""The superword stage: after subword merges up to a transition point, keep merging across spaces.

SuperBPE (Liu et al., arXiv 2503.13423), which the paper's tokenizer pipeline was "modified from"
(``paper_facts.md`` §2), trains BPE in two stages over one merge loop:

    stage A (subwords)    merges under the strict pre-tokenization ("youtu"): no token crosses a word, a digit or
                          a CJK character;                                  BPE entries 256 .. size_A
    stage B (superwords)  the same loop continued from stage A's segmentation, over coarser pieces
                          ("superword" pre-tokenization: runs between digits and line breaks), so merges may
                          bridge spaces, punctuation and runs of CJK characters;   entries size_A .. size

The transition point is the share of the BPE entries left to stage B, ``t = (size - size_A) / size``. With
``ylm.tokenizer.staged.learn_merges`` this is one call with another pre-tokenizer: stage B segments each coarse
piece with stage A's merges (in rank order, exactly as encoding does) and then counts pairs across the old piece
boundaries.

The finished tokenizer encodes with the relaxed pre-tokenizer and plain HF ``tokenizers``: stage A's merges rank
first, so inside a word they act as before; stage B's merges then join the words. The boundaries a superword
still never crosses, by construction:

* a digit group (single digits stay single: the pre-tokenizer isolates every digit);
* a line break (a run of line breaks with its surrounding spaces is a piece of its own);
* a special token (added tokens are split out before pre-tokenization, so they stay atomic).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from tokenizers import Tokenizer

from ylm.checks import check_rate
from ylm.tokenizer.staged import BPEVocab, learn_merges, youtu_staged_vocab
from ylm.tokenizer.train import TokenizerConfig, assemble

SUPERWORD = "superword"


def add_superwords(subwords: BPEVocab, texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """Stage B: merges learned over ``texts`` cut by the superword pre-tokenizer, on top of ``subwords``, until
    the BPE part has ``config.bpe_size`` entries; assembled with the superword pre-tokenizer.

    Raises ``ValueError`` when the texts run out of pairs seen ``min_frequency`` times before that size."""
    config = dataclasses.replace(config, pretokenizer=SUPERWORD)
    config.validate()
    vocab = learn_merges(subwords, texts, config.bpe_size, SUPERWORD, config.digits, config.min_frequency)
    if len(vocab) < config.bpe_size:
        raise ValueError(
            f"vocab_size={config.vocab_size}: the superword stage reached {len(vocab)} of {config.bpe_size} BPE "
            f"entries (min_frequency={config.min_frequency}); give more text or a smaller superword share"
        )
    return assemble(vocab.to_model(), config)


def youtu_superword(
    source: BPEVocab,
    stage_texts: list[Iterable[str]],
    superword_texts: Iterable[str],
    config: TokenizerConfig,
    superword_share: float,
    base_size: int = 100_000,
) -> tuple[Tokenizer, dict[str, object]]:
    """The paper's staged subwords (``youtu_staged``: o200k base, merges on each of ``stage_texts``, topped up)
    filling ``1 - superword_share`` of ``config.bpe_size``, then superwords learned on ``superword_texts``.

    The base shrinks with the subword part (``base_size * (1 - superword_share)``), so the learned code/math
    stage keeps its share of the subwords at every transition point. Returns the tokenizer and a report of
    where its entries came from (``youtu_staged``'s keys plus ``subword_size`` and ``superwords``)."""
    check_rate("superword_share", superword_share)
    config.validate()
    subword_size = config.bpe_size - round(superword_share * config.bpe_size)
    if subword_size < 256:
        raise ValueError(
            f"superword_share={superword_share} leaves {subword_size} subword entries for "
            f"bpe_size={config.bpe_size}; at least the 256 bytes must stay"
        )
    sub_config = dataclasses.replace(config, vocab_size=subword_size + config.special_slots)
    base = max(256, min(subword_size, round(base_size * subword_size / config.bpe_size)))
    subwords, report = youtu_staged_vocab(source, stage_texts, sub_config, base)
    tok = add_superwords(subwords, superword_texts, config)
    report["subword_size"] = len(subwords)
    report["superwords"] = tok.get_vocab_size(with_added_tokens=False) - len(subwords)
    report["bpe_size"] = tok.get_vocab_size(with_added_tokens=False)
    return tok, report
