"""Ablations of the Youtu-style tokenizer: change one design choice, rebuild, and measure the compression.

Each driver builds its tokenizer variants, measures them with ``compression.compression_table`` against one
baseline (Llama 3 in notebook 01) and returns a long ``pandas.DataFrame``: one row per (variant, text), the
varied setting in its own column, and the fixed settings it ran with in ``table.attrs``.

    digit_grouping_ablation   the staged construction with 1, 2 or 3 digits per pre-token piece
    vocab_size_sweep          one-stage BPE at several sizes (a small corpus may supply fewer entries)
    staging_ablation          one stage vs staged on our general text vs staged on an o200k base, one size

A table says how many tokens each variant needs, not whether the difference is more than the choice of
held-out documents. ``staging_ablation`` therefore adds a paired bootstrap over documents: resample the
documents with replacement B times and take the 2.5% and 97.5% quantiles of

    change_% = (T_one_stage / T_variant - 1) * 100     (% change in bytes per token; the bytes cancel)

where T sums the resampled documents' token counts. An interval that contains 0 is a change the held-out set
cannot tell from none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tokenizers import Tokenizer

from ylm.tokenizer.compression import compression_table, document_tokens
from ylm.tokenizer.staged import BPEVocab, train_staged, youtu_staged
from ylm.tokenizer.train import TokenizerConfig, train_tokenizer

Texts = Mapping[str, str | Sequence[str]]
ONE_STAGE, STAGED_OURS, STAGED_SOURCE = "one stage", "staged (ours)", "staged (o200k base)"


def bpe_entries(tok: Tokenizer) -> int:
    """Entries of the BPE model itself (the 256 bytes and the merges), special slots left out."""
    return tok.get_vocab_size(with_added_tokens=False)


def variant_table(
    variants: Mapping[str, Tokenizer], texts: Texts, baseline: Tokenizer, baseline_name: str = "llama3"
) -> pd.DataFrame:
    """``compression_table`` of the variants against ``baseline``, with the baseline's own rows dropped (its
    numbers are the reference of every ``vs_<baseline_name>_%`` value) and each variant's BPE size added."""
    if baseline_name in variants:
        raise ValueError(
            f"baseline_name {baseline_name!r} must differ from the variant names: {', '.join(variants)}"
        )
    table = compression_table({baseline_name: baseline, **variants}, texts, baseline=baseline_name)
    table = table[table.tokenizer != baseline_name].reset_index(drop=True)
    sizes = {name: bpe_entries(tok) for name, tok in variants.items()}
    table.insert(2, "bpe_size", table.tokenizer.map(sizes))
    return table


def _fixed_settings(config: TokenizerConfig, varied: str) -> dict[str, object]:
    """The config fields an ablation keeps fixed (the varied one is a column of its table)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k != varied}


def digit_grouping_ablation(
    source: BPEVocab,
    stage_texts: list[Sequence[str]],
    texts: Texts,
    baseline: Tokenizer,
    config: TokenizerConfig,
    base_size: int,
    digit_groups: Sequence[int] = (1, 2, 3),
    baseline_name: str = "llama3",
) -> pd.DataFrame:
    """``youtu_staged(source, stage_texts, config with digits=d, base_size)`` for each ``d``: one row per
    (digits, text). Only the digit rule changes, so the rows isolate what single digits cost or save."""
    names = {f"{digits} digit(s)": digits for digits in digit_groups}
    variants, reports = {}, {}
    for name, digits in names.items():
        variants[name], reports[digits] = youtu_staged(
            source, stage_texts, dataclasses.replace(config, digits=digits), base_size=base_size
        )
    table = variant_table(variants, texts, baseline, baseline_name)
    table.insert(2, "digits", table.tokenizer.map(names))
    table.attrs = {"config": _fixed_settings(config, "digits"), "base_size": base_size, "reports": reports}
    return table


def vocab_size_sweep(
    train_texts: Sequence[str],
    texts: Texts,
    baseline: Tokenizer,
    bpe_sizes: Sequence[int],
    config: TokenizerConfig,
    baseline_name: str = "llama3",
) -> pd.DataFrame:
    """One-stage BPE on ``train_texts`` asking for each of ``bpe_sizes`` BPE entries (``config`` gives the
    pre-tokenizer, digits, special slots and min_frequency; its ``vocab_size`` is replaced): one row per
    (size, text), with ``bpe_requested`` and the ``bpe_size`` reached.

    A small corpus runs out of pairs seen ``min_frequency`` times before a large size; that point is kept
    (``allow_smaller``) rather than dropped, because where the corpus runs out is itself a result, and
    ``bpe_size`` says the size it reached.
    """
    names = {f"{size:,} BPE": size for size in bpe_sizes}
    configs = {name: dataclasses.replace(config, vocab_size=size + config.special_slots)
               for name, size in names.items()}
    variants = {name: train_tokenizer(train_texts, cfg, allow_smaller=True) for name, cfg in configs.items()}
    table = variant_table(variants, texts, baseline, baseline_name)
    table.insert(2, "bpe_requested", table.tokenizer.map(names))
    table.attrs = {"config": _fixed_settings(config, "vocab_size")}
    return table


def first_size_matching_baseline(sweep: pd.DataFrame, baseline_name: str = "llama3") -> pd.Series:
    """Per text, the smallest BPE size reached in a ``vocab_size_sweep`` that needs no more tokens than the
    baseline (``vs_<baseline>_% >= 0``, i.e. at least its bytes per token); ``<NA>`` where none does."""
    matching = sweep[sweep[f"vs_{baseline_name}_%"] >= 0].groupby("text", sort=False)["bpe_size"].min()
    texts = list(dict.fromkeys(sweep.text))
    return matching.reindex(texts).astype("Int64")


def staging_variants(
    general: Sequence[str], reasoning: Sequence[str], source: BPEVocab, config: TokenizerConfig
) -> dict[str, Tokenizer]:
    """Three tokenizers of ``config.bpe_size`` BPE entries, all with ``config``'s pre-tokenization:

    * one stage: BPE on ``general + reasoning`` mixed;
    * staged (ours): the first half of the merges on ``general``, the rest on ``reasoning``;
    * staged (o200k base): half the entries from ``source``'s valid ASCII subset (``youtu_staged``), the rest
      learned on ``reasoning``.

    Raises ``ValueError`` when a variant ends smaller than ``config.bpe_size`` (a corpus too small for the
    size): the comparison is only fair at equal size.
    """
    half = 256 + (config.bpe_size - 256) // 2
    variants = {
        # allow_smaller: a short variant is reported below together with the others, in one message.
        ONE_STAGE: train_tokenizer(list(general) + list(reasoning), config, allow_smaller=True),
        STAGED_OURS: train_staged([(general, half), (reasoning, config.bpe_size)], config)[0],
        STAGED_SOURCE: youtu_staged(source, [reasoning], config, base_size=half)[0],
    }
    short = {name: bpe_entries(tok) for name, tok in variants.items() if bpe_entries(tok) < config.bpe_size}
    if short:
        raise ValueError(
            f"config.bpe_size={config.bpe_size}: variants reached only {short}; give more text or a smaller "
            "vocab_size, so that all three have the same size"
        )
    return variants


def _paired_sums(reference_tokens: Sequence[int], variant_tokens: Sequence[int], n_boot: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Token totals of both tokenizers over ``n_boot`` resamples (with replacement) of the same documents."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1 (bootstrap resamples), got {n_boot}")
    ref, var = np.asarray(reference_tokens), np.asarray(variant_tokens)
    if ref.shape != var.shape or ref.ndim != 1 or len(ref) == 0:
        raise ValueError(
            "reference_tokens and variant_tokens must be equally long, non-empty lists of per-document "
            f"counts, got lengths {len(ref)} and {len(var)}"
        )
    # The same resampled documents for both tokenizers: the pairing removes the document-to-document spread
    # that both share, leaving only how consistently the variant differs.
    picks = np.random.default_rng(seed).integers(0, len(ref), size=(n_boot, len(ref)))
    return ref[picks].sum(axis=1), var[picks].sum(axis=1)


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def bootstrap_change(
    reference_tokens: Sequence[int], variant_tokens: Sequence[int], n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% paired-bootstrap interval over documents of ``(T_reference / T_variant - 1) * 100``: the % change
    in bytes per token of the variant against the reference on the same documents."""
    ref, var = _paired_sums(reference_tokens, variant_tokens, n_boot, seed)
    return _interval((ref / var - 1) * 100)


def bootstrap_interval(
    reference_tokens: Sequence[int], variant_tokens: Sequence[int], n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% paired-bootstrap interval over documents of ``(T_reference - T_variant) / T_reference * 100``: the %
    fewer tokens than the reference (nanochat's relative difference)."""
    ref, var = _paired_sums(reference_tokens, variant_tokens, n_boot, seed)
    return _interval((ref - var) / ref * 100)


def staging_ablation(
    general: Sequence[str],
    reasoning: Sequence[str],
    source: BPEVocab,
    texts: Mapping[str, Sequence[str]],
    baseline: Tokenizer,
    config: TokenizerConfig,
    baseline_name: str = "llama3",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """The ``staging_variants`` measured on ``texts`` (lists of held-out documents): one row per (variant,
    text), with the % change in bytes per token against the one-stage variant, its 95% paired-bootstrap
    interval over the documents (``change_low_%``, ``change_high_%``) and ``clear``: that interval excludes 0.
    """
    variants = staging_variants(general, reasoning, source, config)
    table = variant_table(variants, texts, baseline, baseline_name)
    per_doc = {(name, label): document_tokens(tok, docs) for name, tok in variants.items()
               for label, docs in texts.items()}
    change, low, high = [], [], []
    for row in table.itertuples():
        ref_tokens = per_doc[ONE_STAGE, row.text]
        change.append((sum(ref_tokens) / row.tokens - 1) * 100)
        interval = bootstrap_change(ref_tokens, per_doc[row.tokenizer, row.text], n_boot)
        low.append(interval[0])
        high.append(interval[1])
    table["change_vs_one_stage_%"], table["change_low_%"], table["change_high_%"] = change, low, high
    table["clear"] = (table["change_low_%"] > 0) | (table["change_high_%"] < 0)  # interval excludes 0
    table.attrs = {"config": dataclasses.asdict(config), "general_docs": len(general),
                   "reasoning_docs": len(reasoning), "n_boot": n_boot}
    return table
