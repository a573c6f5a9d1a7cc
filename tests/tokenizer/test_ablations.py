"""Ablation drivers on a tiny corpus: each returns one row per (variant, text), records its settings, and
shows the effect it exists to measure."""

import pytest

from ylm.tokenizer.ablations import (
    ONE_STAGE,
    STAGED_OURS,
    STAGED_SOURCE,
    bootstrap_change,
    digit_grouping_ablation,
    first_size_matching_baseline,
    staging_ablation,
    vocab_size_sweep,
)
from ylm.tokenizer.compression import PROBES
from ylm.tokenizer.staged import vocab_from_tokenizer
from ylm.tokenizer.train import TokenizerConfig, train_tokenizer

NUMBERS = [" ".join(f"{n:,}" for n in range(k, 5000, 7)) for k in range(3)]
GENERAL = [PROBES["news"], PROBES["news"].upper(), PROBES["news"].replace("the", "a")]
REASONING = [PROBES["latex_math"], PROBES["python_code"], PROBES["json_tool_calls"]] * 2
CONFIG = TokenizerConfig(vocab_size=256 + 16 + 300, special_slots=16)


@pytest.fixture(scope="module")
def baseline():
    """A stand-in for Llama 3: GPT-4-style pre-tokenization (digit groups of 3) trained on all the text."""
    return train_tokenizer(GENERAL + REASONING + NUMBERS, TokenizerConfig(vocab_size=256 + 16 + 400,
                                                                          pretokenizer="llama3"))


@pytest.fixture(scope="module")
def source(baseline):
    """A stand-in for o200k's vocabulary: the baseline's merges, multi-digit tokens included."""
    return vocab_from_tokenizer(baseline)


def test_three_digit_groups_need_fewer_tokens_on_numbers(source, baseline):
    texts = {"numbers": PROBES["numbers"], "news": PROBES["news"]}
    stages = [REASONING + NUMBERS]
    table = digit_grouping_ablation(source, stages, texts, baseline, CONFIG, base_size=256 + 100)
    assert len(table) == 3 * len(texts) and list(table.digits.unique()) == [1, 2, 3]
    tokens = table[table.text == "numbers"].set_index("digits")["tokens"]
    assert tokens[3] < tokens[1] and tokens[2] < tokens[1]  # (3 vs 2 depends on how many merges digits get)
    assert (table.bpe_size == CONFIG.bpe_size).all()
    assert table.attrs["base_size"] == 256 + 100 and "digits" not in table.attrs["config"]
    assert table.attrs["config"]["pretokenizer"] == "youtu"


def test_sweep_bytes_per_token_grow_with_size_on_the_training_text(baseline):
    train = GENERAL + REASONING
    sizes = [256, 306, 356, 456, 100_000]
    table = vocab_size_sweep(train, {"train": train, "numbers": PROBES["numbers"]}, baseline, sizes, CONFIG)
    assert len(table) == len(sizes) * 2 and table.attrs["config"]["special_slots"] == 16
    assert "vocab_size" not in table.attrs["config"]
    on_train = table[table.text == "train"].sort_values("bpe_requested")
    assert on_train.bytes_per_token.is_monotonic_increasing
    assert on_train.bytes_per_token.iloc[0] < on_train.bytes_per_token.iloc[-1]
    largest = on_train.iloc[-1]
    assert largest.bpe_requested == 100_000 and 456 < largest.bpe_size < 100_000  # the corpus ran out


def test_first_size_matching_baseline_is_the_baselines_own_size():
    train = GENERAL + REASONING
    same = train_tokenizer(train, TokenizerConfig(vocab_size=356 + 16))
    table = vocab_size_sweep(train, {"train": train}, same, [256, 306, 356, 456], CONFIG)
    assert first_size_matching_baseline(table)["train"] == 356  # the same tokenizer: a tie counts as matching
    never = table.assign(text="never", **{"vs_llama3_%": -1.0})
    assert first_size_matching_baseline(never).isna().all()


def test_staging_table_has_one_row_per_variant_and_domain(source, baseline):
    texts = {"general": GENERAL, "reasoning": REASONING}
    table = staging_ablation(GENERAL, REASONING, source, texts, baseline, CONFIG, n_boot=200)
    assert len(table) == 3 * len(texts)
    assert set(zip(table.tokenizer, table.text, strict=True)) == {
        (v, t) for v in (ONE_STAGE, STAGED_OURS, STAGED_SOURCE) for t in texts
    }
    assert (table.bpe_size == CONFIG.bpe_size).all()
    one = table[table.tokenizer == ONE_STAGE]
    assert (one[["change_vs_one_stage_%", "change_low_%", "change_high_%"]] == 0).all().all()
    assert (table["change_low_%"] <= table["change_high_%"]).all() and not one.clear.any()
    assert table.attrs["config"]["vocab_size"] == CONFIG.vocab_size and table.attrs["n_boot"] == 200


def test_staging_refuses_unequal_sizes(source, baseline):
    big = TokenizerConfig(vocab_size=256 + 16 + 5000, special_slots=16)
    with pytest.raises(ValueError, match="same size"):
        staging_ablation(GENERAL, REASONING, source, {"g": GENERAL}, baseline, big)


def test_bootstrap_change_interval():
    assert bootstrap_change([100, 200, 300], [100, 200, 300]) == (0.0, 0.0)
    low, high = bootstrap_change([100, 200, 300], [90, 180, 270])  # 10% fewer tokens in every document
    assert low == pytest.approx(100 / 90 * 100 - 100) and high == pytest.approx(low)
    low, high = bootstrap_change([100, 100], [90, 110])  # one document better, one worse: no clear change
    assert low < 0 < high
    with pytest.raises(ValueError, match="equally long"):
        bootstrap_change([1, 2], [1])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_change([1], [1], n_boot=0)
