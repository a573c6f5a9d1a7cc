"""The out-of-source verdict: held-out sources really stay out of training, every control has the stated size,
and the verdict words follow the numbers."""

import pandas as pd
import pytest

from ylm.data import load_documents, load_texts, sha256_text
from ylm.tokenizer.ablations import bpe_entries
from ylm.tokenizer.staged import vocab_from_tokenizer
from ylm.tokenizer.train import TokenizerConfig, train_tokenizer
from ylm.tokenizer.verdict import (
    O200K_SUBSET,
    ONE_STAGE,
    OUT_OF_SOURCE,
    STAGED,
    SUPERWORDS,
    SourceSplit,
    claim_verdicts,
    equal_size_controls,
    pick_share,
    source_split,
    verdict_table,
)

GENERAL = ["The council of the city voted for the plan of the year, and the plan of the city won. " * 4] * 3
STEM = ["Let $x^2 + y^2 = 1$; then the derivative of the function is computed with the chain rule.\n" * 4] * 3
CODE = ["def area(r):\n    return 3.14159 * r * r\n\nfor r in range(10):\n    print(area(r))\n" * 3] * 3
AGENT = ['User: add 2 and 3\nAssistant calls: {"name": "calculator", "arguments": {"expression": "2+3"}}\n'] * 3


@pytest.fixture(scope="module")
def split():
    return source_split()


def test_held_out_sources_never_reach_training(split):
    trained = {sha256_text(t) for t in split.training_texts()}
    for key, docs in split.out_of_source.items():
        assert docs and not trained & {sha256_text(t) for t in docs}, key
    for domain, source in OUT_OF_SOURCE.items():
        held = {sha256_text(d["text"]) for name in ("train", "heldout") for d in load_documents(domain, name)
                if d["source"] == source}
        assert held == {sha256_text(t) for t in split.out_of_source[f"{domain}/{source}"]}
        assert f"{domain}/{source}" not in split.in_source
    assert "code/numpy" in split.out_of_source and split.train["chinese"]
    assert {k.split("/")[0] for k in split.in_source} >= {"general", "stem", "code", "agent", "chinese"}


def test_adding_a_trained_document_as_out_of_source_is_refused(split):
    with pytest.raises(ValueError, match="in the training text"):
        split.add_out_of_source("general/leak", [split.train["general"][0]])


def test_unknown_holdout_domain_or_source_raises():
    with pytest.raises(ValueError, match="holdout domain"):
        source_split({"poetry": "x"})
    with pytest.raises(ValueError, match="no documents"):
        source_split({"general": "no-such-source"})


def test_every_control_has_the_stated_size():
    split = SourceSplit(train={"general": GENERAL, "stem": STEM, "code": CODE, "agent": AGENT}, in_source={})
    # a stand-in for o200k: a llama3-style vocabulary of real prose, large enough to fill every control
    source = vocab_from_tokenizer(train_tokenizer(load_texts("general", "train")[:40],
                                                  TokenizerConfig(vocab_size=256 + 16 + 1500, pretokenizer="llama3")))
    config = TokenizerConfig(vocab_size=256 + 16 + 400, special_slots=16)
    variants, _ = equal_size_controls(split, source, config, superword_share=0.1, base_size=256 + 200)
    assert list(variants) == [O200K_SUBSET, ONE_STAGE, STAGED, SUPERWORDS]
    assert {name: bpe_entries(tok) for name, tok in variants.items()} == dict.fromkeys(variants, 656)
    tiny_source = vocab_from_tokenizer(train_tokenizer(GENERAL, TokenizerConfig(vocab_size=256 + 16 + 30)))
    with pytest.raises(ValueError, match="bpe_size=656|reached .* of 656"):  # never a smaller control
        equal_size_controls(split, tiny_source, config, superword_share=0.1, base_size=256 + 10)


def test_verdict_table_against_a_hand_count():
    tok = train_tokenizer(GENERAL + CODE, TokenizerConfig(vocab_size=256 + 16 + 60))
    base = train_tokenizer(GENERAL + CODE, TokenizerConfig(vocab_size=256 + 16 + 20))
    split = SourceSplit(train={}, in_source={"general/a": GENERAL[:2]}, out_of_source={"code/b": CODE[:2]})
    table = verdict_table({"ours": tok, "same": base}, split, base, baseline_name="base", n_boot=50)
    row = table[(table.variant == "ours") & (table.split == "out of source") & (table.source == "b")].iloc[0]
    ours, theirs = (sum(len(t.encode(d).ids) for d in CODE[:2]) for t in (tok, base))
    assert row.tokens == ours and row.base_tokens == theirs
    assert row["vs_base_%"] == pytest.approx((theirs - ours) / theirs * 100)
    same = table[table.variant == "same"]
    assert (same["vs_base_%"] == 0).all() and (same["low_%"] == 0).all() and (same["high_%"] == 0).all()
    with pytest.raises(ValueError, match="baseline_name"):
        verdict_table({"base": tok}, split, base, baseline_name="base")


def _claim_rows(general_in, general_out, reasoning_in, reasoning_out):
    rows = []
    for split_name, general, reasoning in (("in source", general_in, reasoning_in),
                                           ("out of source", general_out, reasoning_out)):
        for domain, pct in (("general", general), ("stem", reasoning), ("code", reasoning)):
            rows.append({"variant": "v", "split": split_name, "domain": domain, "source": "all",
                         "llama3_tokens": 1000, "tokens": 1000 * (1 - pct / 100)})
    return pd.DataFrame(rows)


def test_claim_verdict_words_follow_the_numbers():
    verdicts = claim_verdicts(_claim_rows(6, 5.5, 12, 3), "v").set_index("claim")["verdict"]
    assert verdicts["general"] == "reproduced" and verdicts["reasoning"] == "reproduced only in source"
    verdicts = claim_verdicts(_claim_rows(4.9, 6, -1, -2), "v").set_index("claim")["verdict"]
    assert (verdicts == "not reproduced").all()


def test_share_is_picked_on_in_source_text_only():
    sweep = pd.DataFrame([
        {"superword_share": s, "split": split_name, "llama3_tokens": 100, "tokens": tokens}
        for s, in_tokens, out_tokens in ((0.0, 90, 70), (0.1, 80, 95), (0.2, 85, 60))
        for split_name, tokens in (("in source", in_tokens), ("out of source", out_tokens))
    ])
    assert pick_share(sweep, tolerance=0) == 0.1  # the out-of-source optimum (0.2) must not leak into the choice
    assert pick_share(sweep, tolerance=5) == 0.1 and pick_share(sweep, tolerance=10) == 0.0  # the knee
    with pytest.raises(ValueError, match="tolerance"):
        pick_share(sweep, tolerance=-1)
