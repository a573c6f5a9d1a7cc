"""A compression verdict measured out of source, with controls at one vocabulary size.

Held-out pages of a source the tokenizer trained on share its names, boilerplate and phrasing (the STEM stage
learns ` sympy` and `.polys` from SymPy's documentation and then "compresses" more SymPy documentation), so a
held-out *document* split flatters learned merges. Two splits answer different questions:

    in source       the ``heldout`` documents of the sources the tokenizers trained on
    out of source   every document of a source no tokenizer trained on (one per domain: ``OUT_OF_SOURCE`` among
                    the committed sources, plus the extra corpora and texts the caller adds)

Controls, all with ``config.bpe_size`` BPE entries and the Youtu pre-tokenization:

    o200k subset          the Youtu-valid o200k entries alone (no learned merge)
    one stage             BPE on all training text; where the corpus runs out, topped up with o200k entries
    staged                o200k base + merges learned on STEM/code/agent text (the paper's recipe)
    staged + superwords   the same subwords up to the transition point, then superwords on all training text

Each cell is the % fewer tokens than a baseline (Llama 3), ``(T_base - T) / T_base * 100``, with a 95% paired
bootstrap interval over the documents of that cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
from tokenizers import Tokenizer

from ylm.checks import check_number
from ylm.data import DOMAINS, load_documents, sha256_text
from ylm.tokenizer.ablations import bootstrap_interval, bpe_entries
from ylm.tokenizer.compression import PAPER_CLAIMS, document_tokens
from ylm.tokenizer.staged import (
    BPEVocab,
    byte_vocab,
    filter_vocab,
    top_up,
    vocab_from_tokenizer,
    youtu_staged,
)
from ylm.tokenizer.superword import youtu_superword
from ylm.tokenizer.train import TokenizerConfig, assemble, train_tokenizer

OUT_OF_SOURCE: dict[str, str] = {"general": "python-docs", "stem": "champ"}  # domain -> source left out
CHINESE = "chinese"
O200K_SUBSET, ONE_STAGE, STAGED, SUPERWORDS = "o200k subset", "one stage", "staged", "staged + superwords"
STEM_STAGE_DOMAINS: tuple[str, ...] = ("stem", "code", "agent")  # the paper's code/math stage text
CLAIM_DOMAINS: dict[str, tuple[str, ...]] = {"general": ("general",), "reasoning": ("stem", "code")}


@dataclass
class SourceSplit:
    """Training text per domain (the kept sources' ``train`` documents, Chinese included) and the two
    evaluation splits, each keyed ``"<domain>/<source>"``."""

    train: dict[str, list[str]]
    in_source: dict[str, list[str]]
    out_of_source: dict[str, list[str]] = field(default_factory=dict)

    def training_texts(self, domains: Sequence[str] | None = None) -> list[str]:
        return [t for d in (domains or self.train) for t in self.train.get(d, [])]

    def add_out_of_source(self, key: str, texts: Sequence[str]) -> None:
        """Add a corpus no tokenizer trained on; refused if any of its documents is in the training text."""
        trained = {sha256_text(t) for t in self.training_texts()}
        if any(sha256_text(t) in trained for t in texts):
            raise ValueError(f"out-of-source texts {key!r}: some documents are in the training text")
        self.out_of_source[key] = list(texts)


def source_split(holdout: Mapping[str, str] = OUT_OF_SOURCE, data_dir=None) -> SourceSplit:
    """Split ``data_samples/`` by source: each ``holdout`` source (both splits) becomes out-of-source text; the
    other sources' train/heldout documents are training / in-source text. The Chinese corpus trains and is
    measured in source; the numpy code corpus is out of source (nothing trains on it)."""
    for domain in holdout:
        if domain not in DOMAINS:
            raise ValueError(f"holdout domain {domain!r}: valid domains are {', '.join(DOMAINS)}")
    split = SourceSplit(train={}, in_source={})
    for domain in (*DOMAINS, CHINESE):
        for name in ("train", "heldout"):
            for doc in load_documents(domain, name, data_dir):
                key = f"{domain}/{doc['source']}"
                if holdout.get(domain) == doc["source"]:
                    split.out_of_source.setdefault(key, []).append(doc["text"])
                elif name == "train":
                    split.train.setdefault(domain, []).append(doc["text"])
                else:
                    split.in_source.setdefault(key, []).append(doc["text"])
    for domain, source in holdout.items():
        if f"{domain}/{source}" not in split.out_of_source:
            raise ValueError(f"holdout source {source!r} has no documents in domain {domain!r}")
    for doc in load_documents("numpy", "heldout", data_dir):
        split.out_of_source.setdefault(f"code/{doc['source']}", []).append(doc["text"])
    return split


def o200k_pool(source: BPEVocab, config: TokenizerConfig) -> BPEVocab:
    """The Youtu-valid (ASCII or single-character) entries of ``source`` in rank order: the top-up reserve."""
    return filter_vocab(source, config.pretokenizer, config.digits, ascii_only=True)[0]


def one_stage_topped_up(texts: Sequence[str], pool: BPEVocab, config: TokenizerConfig) -> tuple[Tokenizer, int]:
    """One-stage BPE on ``texts`` as far as the corpus goes, then ``pool`` entries up to ``config.bpe_size``;
    returns the tokenizer and how many entries the corpus supplied."""
    trained = vocab_from_tokenizer(train_tokenizer(texts, config, allow_smaller=True))
    filled, _ = top_up(trained, pool, config.bpe_size)
    return assemble(filled.to_model(), config), len(trained)


def equal_size_controls(
    split: SourceSplit, source: BPEVocab, config: TokenizerConfig, superword_share: float, base_size: int
) -> tuple[dict[str, Tokenizer], dict[str, object]]:
    """The four controls (module docstring) at ``config.bpe_size`` BPE entries, and a report of where their
    entries came from. ``ValueError`` if any control ends at another size."""
    pool = o200k_pool(source, config)
    stem_texts = split.training_texts(STEM_STAGE_DOMAINS)
    everything = split.training_texts()
    variants, report = {O200K_SUBSET: assemble(top_up(byte_vocab(), pool, config.bpe_size)[0].to_model(), config)}, {}
    variants[ONE_STAGE], report[ONE_STAGE] = one_stage_topped_up(everything, pool, config)
    variants[STAGED], report[STAGED] = youtu_staged(source, [stem_texts], config, base_size)
    variants[SUPERWORDS], report[SUPERWORDS] = youtu_superword(
        source, [stem_texts], everything, config, superword_share, base_size)
    wrong = {name: bpe_entries(tok) for name, tok in variants.items() if bpe_entries(tok) != config.bpe_size}
    if wrong:
        raise ValueError(f"controls must all have bpe_size={config.bpe_size}; got {wrong}")
    return variants, report


def _cells(split: SourceSplit, extra: Mapping[str, str | Sequence[str]]) -> dict[tuple[str, str], list[str]]:
    """(split name, "<domain>/<source>") -> documents, both splits, then ``extra`` texts as split "probe"."""
    cells = {("in source", key): docs for key, docs in split.in_source.items()}
    cells |= {("out of source", key): docs for key, docs in split.out_of_source.items()}
    cells |= {("probe", key): [text] if isinstance(text, str) else list(text) for key, text in extra.items()}
    return cells


def verdict_table(
    variants: Mapping[str, Tokenizer],
    split: SourceSplit,
    baseline: Tokenizer,
    baseline_name: str = "llama3",
    extra: Mapping[str, str | Sequence[str]] | None = None,
    n_boot: int = 2000,
) -> pd.DataFrame:
    """One row per (variant, split, domain, source): documents, bytes, tokens, ``vs_<baseline>_%`` (% fewer
    tokens than the baseline) and its 95% paired-bootstrap interval; plus one row per (variant, split, domain)
    with source ``"all"`` over that domain's documents of every source. ``extra``: probe texts keyed
    ``"<domain>/<name>"``, in split "probe"."""
    if baseline_name in variants:
        raise ValueError(f"baseline_name {baseline_name!r} must differ from the variant names: {', '.join(variants)}")
    cells = _cells(split, extra or {})
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for name, key in cells:
        domain, source = key.split("/", 1)
        groups.setdefault((name, domain, source), []).append((name, key))
        if name != "probe":
            groups.setdefault((name, domain, "all"), []).append((name, key))
    counts = {tok_name: {cell: document_tokens(tok, docs) for cell, docs in cells.items()}
              for tok_name, tok in {baseline_name: baseline, **variants}.items()}
    col = f"vs_{baseline_name}_%"
    rows = []
    for (name, domain, source), members in groups.items():
        docs = [d for cell in members for d in cells[cell]]
        ref = [n for cell in members for n in counts[baseline_name][cell]]
        for variant in variants:
            tokens = [n for cell in members for n in counts[variant][cell]]
            low, high = bootstrap_interval(ref, tokens, n_boot) if n_boot else (float("nan"), float("nan"))
            rows.append({"variant": variant, "split": name, "domain": domain, "source": source,
                         "documents": len(docs), "bytes": sum(len(d.encode("utf-8")) for d in docs),
                         f"{baseline_name}_tokens": sum(ref), "tokens": sum(tokens),
                         col: (sum(ref) - sum(tokens)) / sum(ref) * 100,
                         "low_%": low, "high_%": high})
    return pd.DataFrame(rows)


def claim_verdicts(table: pd.DataFrame, variant: str, baseline_name: str = "llama3") -> pd.DataFrame:
    """The paper's +5% general / +10% reasoning claims for ``variant``, in source and out of source: the
    tokens of the claim's domains summed per split. ``reproduced`` needs the claimed % or more in both splits;
    ``reproduced only in source`` in source alone; otherwise ``not reproduced``."""
    rows = []
    for claim, domains in CLAIM_DOMAINS.items():
        measured = {}
        for name in ("in source", "out of source"):
            hit = table[(table.variant == variant) & (table.split == name) & table.domain.isin(domains)
                        & (table.source == "all")]
            if hit.empty:
                raise ValueError(f"no rows for variant {variant!r}, split {name!r}, domains {domains}")
            measured[name] = float(pooled_change(hit, "variant", baseline_name).iloc[0])
        claimed = PAPER_CLAIMS[claim]
        inside, outside = measured["in source"] >= claimed, measured["out of source"] >= claimed
        verdict = ("reproduced" if inside and outside else "reproduced only in source" if inside
                   else "not reproduced")
        rows.append({"claim": claim, "variant": variant, "paper_%": claimed,
                     "in_source_%": round(measured["in source"], 2),
                     "out_of_source_%": round(measured["out of source"], 2), "verdict": verdict})
    return pd.DataFrame(rows)


def best_variant(table: pd.DataFrame, split: str = "out of source", baseline_name: str = "llama3") -> pd.Series:
    """% fewer tokens than the baseline per variant over every domain of ``split`` (sources pooled), best first:
    the test of "staged scored best"."""
    rows = table[(table.split == split) & (table.source == "all")]
    if rows.empty:
        raise ValueError(f"no rows for split {split!r}; splits present: {', '.join(table.split.unique())}")
    return pooled_change(rows, "variant", baseline_name).sort_values(ascending=False)


def transition_sweep(
    split: SourceSplit, source: BPEVocab, config: TokenizerConfig, shares: Sequence[float], base_size: int,
    baseline: Tokenizer, baseline_name: str = "llama3",
) -> tuple[pd.DataFrame, dict[float, Tokenizer]]:
    """``youtu_superword`` at each superword share (0 = no superword stage): % fewer tokens than the baseline
    per split and domain (sources pooled). Returns the table and the tokenizers by share."""
    stem_texts, everything = split.training_texts(STEM_STAGE_DOMAINS), split.training_texts()
    variants = {}
    for share in shares:
        variants[share] = (youtu_staged(source, [stem_texts], config, base_size)[0] if share == 0 else
                           youtu_superword(source, [stem_texts], everything, config, share, base_size)[0])
    table = verdict_table({f"t={s:g}": tok for s, tok in variants.items()}, split, baseline, baseline_name,
                          n_boot=0)
    table = table[table.source == "all"].copy()
    table.insert(0, "superword_share", table.pop("variant").str[2:].astype(float))
    return table.drop(columns=["low_%", "high_%"]), variants


def pick_share(sweep: pd.DataFrame, tolerance: float = 1.0, baseline_name: str = "llama3") -> float:
    """The smallest superword share whose compression over all in-source text (% fewer tokens than the
    baseline, pooled) is within ``tolerance`` percentage points of the best share's.

    Compression alone keeps rising, ever more slowly, as superwords take slots from subwords; SuperBPE picked
    its transition point for downstream quality, which falls when too few subwords are left. The knee keeps
    almost all of the gain with the fewest superwords. The out-of-source split stays a test, never a criterion.
    """
    check_number("tolerance", tolerance, 0)
    gain = pooled_change(sweep[sweep.split == "in source"], "superword_share", baseline_name)
    return float(gain[gain >= gain.max() - tolerance].index.min())


def pooled_change(rows: pd.DataFrame, by: str | list[str], baseline_name: str = "llama3") -> pd.Series:
    """% fewer tokens than the baseline per group of ``by``, the tokens of each group's rows summed first
    (so domains or sources are pooled by their size, not averaged)."""
    sums = rows.groupby(by, sort=False)[[f"{baseline_name}_tokens", "tokens"]].sum()
    return (1 - sums["tokens"] / sums[f"{baseline_name}_tokens"]) * 100

