"""Pre-tokenization presets, training, special tokens, saving/loading, and the Llama 3 reference ids."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from ylm.tokenizer.pretokenize import make_pre_tokenizer
from ylm.tokenizer.reference import KNOWN_IDS, available_references, load_reference
from ylm.tokenizer.special_tokens import YOUTU_SPECIAL_TOKENS
from ylm.tokenizer.train import (
    TokenizerConfig,
    encode_plain,
    load_tokenizer,
    save_tokenizer,
    special_ids,
    to_transformers,
    train_tokenizer,
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def add(a, b):\n    return a + b\n\nprint(add(12345, 678))\n",
    r"We have $\sum_{k=1}^{n} k = \frac{n(n+1)}{2}$ for 2024 cases." + "\n",
    "数学和编程题目特别适合检验模型的能力。ひらがなとカタカナ、한국어 문장。",
    '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}',
] * 4
SMALL = TokenizerConfig(vocab_size=256 + 16 + 120, special_slots=16, min_frequency=2)


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return train_tokenizer(CORPUS, SMALL)


def pieces(text: str, pretokenizer: str, digits: int | None = None) -> list[str]:
    from ylm.tokenizer.byte_level import token_bytes

    return [
        token_bytes(p).decode("utf-8") for p, _ in make_pre_tokenizer(pretokenizer, digits).pre_tokenize_str(text)
    ]


def test_youtu_splits_digits_and_cjk_into_single_units():
    got = pieces("x=12345 数学、かなカナ한국", "youtu")
    assert got[:2] == ["x", "="]
    assert got[2:7] == list("12345")
    assert got[7:] == [" ", "数", "学", "、", "か", "な", "カ", "ナ", "한", "국"]


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_digit_groups(digits):
    got = pieces("1234567", "youtu", digits)
    assert all(1 <= len(p) <= digits for p in got) and "".join(got) == "1234567"
    assert len(got[0]) == digits


def test_llama3_preset_matches_llama3_pieces():
    got = pieces("Hello world's 12345", "llama3")
    assert got == ["Hello", " world", "'s", " ", "123", "45"]


def test_unknown_preset_and_bad_config_raise():
    with pytest.raises(ValueError, match="pretokenizer"):
        make_pre_tokenizer("gpt2")
    with pytest.raises(ValueError, match="digits"):
        make_pre_tokenizer("youtu", 4)
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(CORPUS, TokenizerConfig(vocab_size=256 + 15, special_slots=16))
    with pytest.raises(ValueError, match="special_slots"):
        train_tokenizer(CORPUS, TokenizerConfig(vocab_size=1000, special_slots=4))


@pytest.mark.parametrize("texts", [[], ["", ""]])
def test_empty_corpus_raises(texts):
    with pytest.raises(ValueError, match="empty"):
        train_tokenizer(texts, SMALL)


def test_vocab_layout(tok):
    assert tok.get_vocab_size() == SMALL.vocab_size
    ids = special_ids(tok)
    assert list(ids) == list(YOUTU_SPECIAL_TOKENS)
    # Specials sit after the BPE entries, in order (Llama 3's layout: BOS = first special id).
    assert ids["<|begin_of_text|>"] == SMALL.bpe_size
    assert sorted(ids.values()) == list(range(SMALL.bpe_size, SMALL.bpe_size + len(YOUTU_SPECIAL_TOKENS)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_round_trip_arbitrary_unicode(tok, text):
    assert tok.decode(encode_plain(tok, text), skip_special_tokens=False) == text
    assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text


def test_special_tokens_atomic_but_never_from_plain_text(tok):
    ids = special_ids(tok)
    text = "a<think>b</think><tool_call>{}</tool_call>"
    chat = tok.encode(text).ids
    assert ids["<think>"] in chat and ids["</tool_call>"] in chat  # rendered chat text: one id each
    plain = encode_plain(tok, text)
    assert not set(plain) & set(ids.values())  # document text: never a control id
    assert tok.decode(plain) == text
    for special in YOUTU_SPECIAL_TOKENS:
        assert tok.encode(special).ids == [ids[special]]


def test_training_is_deterministic(tmp_path):
    a = save_tokenizer(train_tokenizer(CORPUS, SMALL), tmp_path / "a.json")
    b = save_tokenizer(train_tokenizer(list(CORPUS), SMALL), tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()
    c = save_tokenizer(train_tokenizer(CORPUS[:-1], SMALL), tmp_path / "c.json")
    assert a.read_bytes() != c.read_bytes()


def test_save_load_and_transformers(tok, tmp_path):
    path = save_tokenizer(tok, tmp_path / "tokenizer.json")
    again = load_tokenizer(path)
    text = "Tokenize 3.14 and 数学 <|User|>hi<|Assistant|>"
    assert again.encode(text).ids == tok.encode(text).ids
    pytest.importorskip("transformers")
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_file=str(path))
    assert fast(text, add_special_tokens=False)["input_ids"] == tok.encode(text).ids
    wrapped = to_transformers(tok)
    assert wrapped.bos_token_id == special_ids(tok)["<|begin_of_text|>"]


LLAMA3_VECTORS = {
    "Hello world": [9906, 1917],
    "hello world": [15339, 1917],
    " Hello": [22691],
    "The quick brown fox jumps over the lazy dog.": [
        791,
        4062,
        14198,
        39935,
        35308,
        927,
        279,
        16053,
        5679,
        13,
    ],
    "This is a test sentence.": [2028, 374, 264, 1296, 11914, 13],
    "grabbed": [59312, 2788],
    " grabbed": [30418],
    "🦙": [9468, 99, 247],
    "\n": [198],
    " \n": [720],
    "<|begin_of_text|>Hi<|eot_id|>": [128000, 13347, 128009],
}


@pytest.mark.skipif("llama3" not in available_references(), reason="run `make setup` to fetch Llama 3")
def test_llama3_known_ids():
    llama = load_reference("llama3")
    for text, ids in LLAMA3_VECTORS.items():
        assert llama.encode(text, add_special_tokens=False).ids == ids, text
    assert KNOWN_IDS["llama3"]["Hello world"] == LLAMA3_VECTORS["Hello world"]


def test_missing_reference_says_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="make setup"):
        load_reference("llama3", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="valid names"):
        load_reference("gpt2")


def test_str_corpus_is_refused():
    # Iterating a str yields characters: the tokenizer would learn no merge at all.
    with pytest.raises(ValueError, match="texts must be an iterable of documents"):
        train_tokenizer("hello world hello world " * 50, SMALL)
    with pytest.raises(ValueError, match="texts"):
        train_tokenizer(b"hello world", SMALL)
