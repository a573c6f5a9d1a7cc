"""Staged BPE: the merge-extension step equals HF training from scratch, and filtering keeps what is reachable."""

import pytest

from ylm.tokenizer.byte_level import token_bytes
from ylm.tokenizer.reference import available_references, load_reference
from ylm.tokenizer.staged import (
    BPEVocab,
    byte_vocab,
    extend_tokenizer,
    filter_vocab,
    learn_merges,
    train_staged,
    vocab_from_tokenizer,
)
from ylm.tokenizer.train import TokenizerConfig, encode_plain, train_tokenizer

GENERAL = [
    "The council voted to expand the bus network across the river and the university district. " * 2,
    "Residents said the new routes would shorten commutes; officials promised night work.",
    "aaaa aaa abab ababab a a aa",  # overlapping pairs: the tricky case for incremental counts
]
CODE = [
    "def f(x):\n    return x * x + 12345\n\nfor i in range(10):\n    print(f(i))\n",
    "class A:\n    def __init__(self):\n        self.value = [1, 2, 3]\n",
    r"$\frac{a}{b} + \sqrt{x^2 + y^2} = \int_0^1 f(t)\,dt$",
    "中文分词测试。数学和编程。",
] * 3


@pytest.mark.parametrize("min_frequency", [1, 2])
def test_empty_base_equals_hf_training(min_frequency):
    config = TokenizerConfig(vocab_size=256 + 16 + 150, min_frequency=min_frequency)
    texts = GENERAL + CODE
    ours = extend_tokenizer(byte_vocab(), texts, config)
    hf = train_tokenizer(texts, config)
    assert ours.to_str() == hf.to_str()  # same merges, same ids, same tie-breaks, same file


def test_extension_keeps_base_and_adds_merges():
    config = TokenizerConfig(vocab_size=256 + 16 + 200)
    base = vocab_from_tokenizer(train_tokenizer(GENERAL, TokenizerConfig(vocab_size=256 + 16 + 60)))
    grown = learn_merges(base, CODE, config.bpe_size)
    assert grown.tokens[: len(base)] == base.tokens and grown.merges[: len(base.merges)] == base.merges
    assert len(grown) > len(base)
    # The first new merge is the most frequent pair of the new corpus after base segmentation.
    tok = extend_tokenizer(base, CODE, config)
    text = CODE[0]
    assert tok.decode(encode_plain(tok, text)) == text
    staged, reached = train_staged([(GENERAL, 256 + 60), (CODE, config.bpe_size)], config)
    assert reached[0] == 256 + 60 and reached[1] <= config.bpe_size
    assert len(encode_plain(staged, CODE[0])) < len(CODE[0].encode())


def test_first_new_merge_is_most_frequent_pair():
    base = byte_vocab()
    grown = learn_merges(base, ["xyxyxy zz"], 257, min_frequency=1)
    assert grown.merges == [("x", "y")] and grown.tokens[-1] == "xy"


def test_filter_drops_tokens_the_new_pretokenization_cannot_make():
    config = TokenizerConfig(vocab_size=256 + 16 + 200, pretokenizer="llama3")  # digit groups of 3
    corpus = ["12345 678 1234 12 " * 20 + "hello world " * 20]
    base = vocab_from_tokenizer(train_tokenizer(corpus, config, allow_smaller=True))
    assert any(t.isdigit() and len(t) > 1 for t in base.tokens)
    kept, dropped = filter_vocab(base, pretokenizer="youtu")
    assert not [
        t for t in kept.tokens if sum(ch.isdigit() for ch in t) > 1 or (t[0] == "Ġ" and t[1:].isdigit())
    ]
    assert dropped.get("not one pre-token", 0) > 0
    assert any(t == "Ġhello" for t in kept.tokens)
    # Every kept merge's parents are kept (otherwise encoding could never reach the child).
    present = set(kept.tokens)
    assert all(a in present and b in present for a, b in kept.merges)
    code_vocab = vocab_from_tokenizer(train_tokenizer(CODE, config, allow_smaller=True))
    ascii_kept, why = filter_vocab(code_vocab, "youtu", ascii_only=True, single_chars=False)
    assert all(max(token_bytes(t)) < 128 for t in ascii_kept.tokens[256:]) and why.get("non-ASCII", 0) > 0
    with_chars, _ = filter_vocab(code_vocab, "youtu", ascii_only=True)
    extra = [token_bytes(t) for t in with_chars.tokens[256:] if max(token_bytes(t)) >= 128]
    assert extra and all(len(b.decode("utf-8", errors="ignore")) <= 1 for b in extra)
    small, _ = filter_vocab(base, "youtu", max_size=260)
    assert len(small) == 260


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        learn_merges(byte_vocab(), ["", ""], 300)
    with pytest.raises(ValueError, match="bpe_size"):
        learn_merges(byte_vocab(), GENERAL, 100)
    with pytest.raises(ValueError, match="pretokenizer"):
        learn_merges(byte_vocab(), GENERAL, 300, pretokenizer="bert")
    with pytest.raises(ValueError, match="vocab_size"):
        extend_tokenizer(byte_vocab(), GENERAL, TokenizerConfig(vocab_size=200))
    with pytest.raises(ValueError, match="BPE"):
        from tokenizers import Tokenizer, models

        vocab_from_tokenizer(Tokenizer(models.WordLevel({"a": 0}, unk_token="a")))
    assert isinstance(byte_vocab(), BPEVocab) and len(byte_vocab()) == 256


def _naive_extension(base: BPEVocab, texts, bpe_size, min_frequency=1):
    """Recount-everything reference: same greedy rule (max count, then smallest id pair)."""
    from collections import Counter

    from ylm.tokenizer.pretokenize import make_pre_tokenizer
    from ylm.tokenizer.staged import _segment

    counts = Counter(p for t in texts for p, _ in make_pre_tokenizer("youtu").pre_tokenize_str(t))
    tokens, merges = list(base.tokens), list(base.merges)
    ids = {t: i for i, t in enumerate(tokens)}
    words = _segment(list(counts), base, ids)
    freqs = list(counts.values())
    while len(tokens) < bpe_size:
        pairs = Counter()
        for w, f in zip(words, freqs, strict=True):
            for p in zip(w, w[1:], strict=False):
                pairs[p] += f
        if not pairs:
            break
        (a, b), c = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if c < min_frequency:
            break
        new = tokens[a] + tokens[b]
        if new not in ids:
            ids[new] = len(tokens)
            tokens.append(new)
        merges.append((tokens[a], tokens[b]))
        for k, w in enumerate(words):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == (a, b):
                    out.append(ids[new])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
    return BPEVocab(tokens, merges)


def test_incremental_extension_matches_naive_recount():
    base = vocab_from_tokenizer(train_tokenizer(GENERAL, TokenizerConfig(vocab_size=256 + 16 + 40)))
    fast = learn_merges(base, CODE + GENERAL, len(base) + 80, min_frequency=1)
    slow = _naive_extension(base, CODE + GENERAL, len(base) + 80)
    assert fast.merges == slow.merges and fast.tokens == slow.tokens


def test_single_character_rule():
    from ylm.tokenizer.staged import _within_one_char

    assert (
        _within_one_char("数".encode())
        and _within_one_char("数".encode()[:2])
        and _within_one_char("é".encode())
    )
    assert _within_one_char("数".encode()[1:])  # a tail piece of one character
    assert (
        not _within_one_char("数学".encode())
        and not _within_one_char(b" \xe6")
        and not _within_one_char(b"ab")
    )


def test_youtu_staged_layout_and_top_up():
    from ylm.tokenizer.staged import top_up, youtu_staged

    source_cfg = TokenizerConfig(vocab_size=256 + 16 + 400, pretokenizer="llama3")
    source = vocab_from_tokenizer(
        train_tokenizer(GENERAL * 3 + CODE + ["2024 1999 31415 é é ü"] * 5, source_cfg, allow_smaller=True)
    )
    config = TokenizerConfig(vocab_size=256 + 16 + 300, special_slots=16, min_frequency=2)
    tok, report = youtu_staged(source, [CODE], config, base_size=256 + 100)
    assert report["base"] == 356
    assert (
        youtu_staged(source, [CODE], config, base_size=256 + 100)[0].to_str() == tok.to_str()
    )  # deterministic
    assert report["base"] + report["learned_stage1"] + report["topped_up"] == report["bpe_size"]
    assert report["learned_stage1"] > 0 and tok.get_vocab_size() == report["bpe_size"] + 16
    vocab = vocab_from_tokenizer(tok)
    assert not [t for t in vocab.tokens if sum(ch.isdigit() for ch in t) > 1]
    text = "x = 31415 é 数学 " + CODE[0]
    assert tok.decode(encode_plain(tok, text)) == text
    grown, added = top_up(byte_vocab(), source, 300)
    assert added == 44 and len(grown) == 300 and grown.merges == source.merges[:44]


@pytest.mark.skipif("o200k" not in available_references(), reason="run `make setup` to fetch o200k")
def test_o200k_base_under_youtu_pretokenization():
    pool, dropped = filter_vocab(vocab_from_tokenizer(load_reference("o200k")), "youtu", ascii_only=True)
    assert 100_000 < len(pool) < 200_000 and dropped["not one pre-token"] > 0
    assert "Ġthe" in pool.tokens and "123" not in pool.tokens and "Ġ1" not in pool.tokens
    assert token_bytes(pool.tokens[300]).isascii()


def test_str_corpus_is_refused():
    config = TokenizerConfig(vocab_size=256 + 16 + 50)
    with pytest.raises(ValueError, match="texts must be an iterable of documents"):
        learn_merges(byte_vocab(), "hello world hello world", 300)
    with pytest.raises(ValueError, match=r"stages\[1\] texts"):
        train_staged([(GENERAL, 280), ("def f(x): return x", config.bpe_size)], config)
    from ylm.tokenizer.staged import youtu_staged

    source = vocab_from_tokenizer(train_tokenizer(GENERAL, config))
    with pytest.raises(ValueError, match="stage_texts"):
        youtu_staged(source, CODE, config, base_size=260)  # one corpus, not a list of stages
    with pytest.raises(ValueError, match="stage_texts"):
        youtu_staged(source, "def f(x): return x", config, base_size=260)


def test_sizes_below_the_byte_alphabet_raise():
    from ylm.tokenizer.staged import youtu_staged

    config = TokenizerConfig(vocab_size=256 + 16 + 50)
    source = vocab_from_tokenizer(train_tokenizer(GENERAL, config))
    with pytest.raises(ValueError, match="max_size must be >= 256"):
        filter_vocab(source, max_size=10)
    with pytest.raises(ValueError, match=r"base_size must be in \[256, "):
        youtu_staged(source, [CODE], config, base_size=100)
    with pytest.raises(ValueError, match="base_size"):
        youtu_staged(source, [CODE], config, base_size=config.bpe_size + 1)
    assert len(filter_vocab(source, max_size=256)[0]) == 256


def test_several_merges_per_token_are_all_kept():
    """A Llama 3-style base lists every split of a token; encoding may reach it through any of them."""
    from ylm.tokenizer.staged import top_up

    tokens = byte_vocab().tokens + ["ab", "bc", "abc"]
    # 'abc' by (a, bc) is listed first, but encoding 'abc' merges (a, b) first and needs (ab, c).
    merges = [("a", "b"), ("b", "c"), ("a", "bc"), ("ab", "c")]
    base = BPEVocab(tokens, merges)
    assert [t.value for t in base.to_model().tokenize("abc")] == ["abc"]
    kept, dropped = filter_vocab(base, "youtu")
    assert kept.tokens[256:] == ["ab", "bc", "abc"] and kept.merges == merges and not dropped
    for token in kept.tokens[256:]:  # every kept token is still one token, as in the base
        assert [t.value for t in kept.to_model().tokenize(token)] == [token]
    grown, added = top_up(byte_vocab(), base, 259)
    assert added == 3 and grown.merges == merges
    assert [t.value for t in grown.to_model().tokenize("abc")] == ["abc"]
