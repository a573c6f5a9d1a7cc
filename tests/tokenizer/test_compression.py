"""Compression metrics: token counts, relative differences, nanochat table, raw token bytes, bits per byte,
the paper's claim and what tool-call tags cost in plain text."""

import math

import pytest

from ylm.tokenizer.compression import (
    PROBES,
    bits_per_byte,
    compression_table,
    count_tokens,
    document_tokens,
    nanochat_table,
    relative_diff,
    token_byte_lengths,
)
from ylm.tokenizer.reference import available_references, load_reference
from ylm.tokenizer.train import TokenizerConfig, special_ids, train_tokenizer


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(list(PROBES.values()) * 2, TokenizerConfig(vocab_size=256 + 16 + 300))


def test_probe_set_covers_the_issue_domains():
    assert set(PROBES) == {"news", "latex_math", "python_code", "json_tool_calls", "numbers", "chinese"}
    assert all(len(t) > 150 for t in PROBES.values())


def test_count_tokens_bytes_chars(tok):
    c = count_tokens(tok, PROBES["chinese"])
    assert c.bytes == len(PROBES["chinese"].encode()) and c.chars == len(PROBES["chinese"])
    assert c.bytes > c.chars  # CJK takes 3 bytes per character
    assert c.tokens == len(tok.encode(PROBES["chinese"]).ids)
    assert math.isclose(c.bytes_per_token, c.bytes / c.tokens)
    docs = [PROBES["news"], PROBES["numbers"]]
    assert count_tokens(tok, docs).tokens == sum(count_tokens(tok, d).tokens for d in docs)
    assert document_tokens(tok, docs) == [count_tokens(tok, d).tokens for d in docs]
    assert document_tokens(tok, PROBES["news"]) == [count_tokens(tok, PROBES["news"]).tokens]


def test_specials_in_documents_counted_as_text(tok):
    ids = special_ids(tok)
    before = tok.encode_special_tokens
    c = count_tokens(tok, "<think>")
    assert c.tokens > 1 and tok.encode_special_tokens == before
    assert tok.encode("<think>").ids == [ids["<think>"]]


def test_relative_diff_sign():
    assert relative_diff(100, 90) == pytest.approx(10.0)
    assert relative_diff(100, 110) == pytest.approx(-10.0)


def test_tables(tok):
    table = compression_table(
        {"base": tok, "ours": tok}, {"a": PROBES["news"], "b": [PROBES["numbers"]]}, "base"
    )
    assert len(table) == 4 and (table["vs_base_%"] == 0).all()
    wide = nanochat_table(table, "ours", "base")
    assert list(wide["Text Type"]) == ["a", "b"] and set(wide["Better"]) == {"tie"}
    with pytest.raises(ValueError, match="baseline"):
        compression_table({"ours": tok}, {"a": "x"}, "llama3")


def test_token_bytes_are_raw_bytes_and_bpb(tok):
    lengths = token_byte_lengths(tok)
    assert len(lengths) == tok.get_vocab_size()
    assert all(lengths[i] == 0 for i in special_ids(tok).values())
    text = PROBES["chinese"] + PROBES["python_code"]
    ids = tok.encode(text).ids
    assert sum(lengths[i] for i in ids) == len(text.encode())  # holds even when a token splits a character
    assert bits_per_byte(math.log(2) * len(text.encode()), ids, lengths) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="0 bytes"):
        bits_per_byte(1.0, [special_ids(tok)["<think>"]], lengths)


@pytest.mark.parametrize("name", ["llama3", "o200k"])
def test_reference_token_bytes_match_text(name):
    if name not in available_references():
        pytest.skip("run `make setup` to fetch the reference tokenizers")
    ref = load_reference(name)
    lengths = token_byte_lengths(ref)
    text = "Hello 🦙 world, 数学!"
    ids = ref.encode(text).ids
    assert sum(lengths[i] for i in ids) == len(text.encode())
    for special in ref.get_added_tokens_decoder():
        assert lengths[special] == 0


def test_paper_claim_check(tok):
    from ylm.tokenizer.compression import paper_claim_check

    table = compression_table({"llama3": tok, "ours": tok}, {"g": PROBES["news"], "r": PROBES["latex_math"]})
    rows = paper_claim_check(table, "ours", {"general": "g", "reasoning": "r"})
    assert [r["claim"] for r in rows] == ["general", "reasoning"]
    assert all(r["measured_%"] == 0 and not r["holds"] and not r["same_sign"] for r in rows)
    assert {r["verdict"] for r in rows} == {"does NOT hold (ours needs more tokens)"}
    bytes_only = train_tokenizer([PROBES["news"]], TokenizerConfig(vocab_size=256 + 16))
    table = compression_table({"llama3": bytes_only, "ours": tok}, {"g": PROBES["news"]})
    assert paper_claim_check(table, "ours", {"general": "g"})[0]["verdict"] == "HOLDS"
    with pytest.raises(ValueError, match="claim"):
        paper_claim_check(table, "ours", {"chinese": "g"})


@pytest.mark.skipif("qwen3" not in available_references(), reason="run `make setup` to fetch Qwen3")
def test_non_special_added_tokens_count_their_bytes():
    from ylm.tokenizer.train import encode_plain

    qwen = load_reference("qwen3")
    lengths = token_byte_lengths(qwen)
    text = PROBES["json_tool_calls"]
    assert sum(lengths[i] for i in encode_plain(qwen, text)) == len(text.encode())


def test_bad_inputs_raise_value_errors(tok):
    with pytest.raises(ValueError, match="baseline_tokens must be > 0"):
        relative_diff(0, 10)
    lengths = token_byte_lengths(tok)
    with pytest.raises(ValueError, match=r"target_ids must lie in \[0, "):
        bits_per_byte(1.0, [0, len(lengths)], lengths)
    with pytest.raises(ValueError, match="target_ids"):
        bits_per_byte(1.0, [-1], lengths)
    table = compression_table({"base": tok, "ours": tok}, {"a": PROBES["news"]}, "base")
    with pytest.raises(ValueError, match="ours 'youtu' must be one of the table's tokenizers: base, ours"):
        nanochat_table(table, "youtu", "base")
    with pytest.raises(ValueError, match="baseline 'llama3'"):
        nanochat_table(table, "ours")


def test_tag_token_counts_by_kind_of_tag(tok):
    from tokenizers import AddedToken, Tokenizer

    from ylm.tokenizer.compression import TOOL_TAGS, tag_token_counts
    from ylm.tokenizer.staged import vocab_from_tokenizer

    bare = Tokenizer(vocab_from_tokenizer(tok).to_model())  # the same BPE without any added token
    bare.pre_tokenizer = tok.pre_tokenizer
    qwen_like = Tokenizer.from_str(bare.to_str())
    qwen_like.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TAGS])
    text = PROBES["json_tool_calls"]
    table = tag_token_counts({"ours": tok, "bare": bare, "qwen_like": qwen_like}, text).set_index("tokenizer")
    assert list(table.tag_kind) == ["special", "no such token", "non-special added"]
    assert table.tokens_per_tag["qwen_like"] == [1, 1, 1, 1]
    assert table.tokens_per_tag["ours"] == table.tokens_per_tag["bare"]  # a special tag is spelled out
    assert min(table.tokens_per_tag["ours"]) > 1
    assert table.tokens["ours"] == table.tokens["bare"] > table.tokens["qwen_like"]
    assert table.in_tags["qwen_like"] == sum(text.count(t) for t in TOOL_TAGS)
    assert (table.in_tags + table.outside == table.tokens).all()


def test_heldout_by_source_splits_each_domain():
    from ylm.tokenizer.compression import heldout_by_source, heldout_texts

    stem = heldout_by_source("stem")
    assert set(stem) == {"champ", "sympy-docs"}
    assert sorted(t for docs in stem.values() for t in docs) == sorted(heldout_texts(["stem"])["stem"])
