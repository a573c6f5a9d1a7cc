"""Bad input to tokenizer training: a ValueError naming the field, never a silently smaller tokenizer."""

from __future__ import annotations

import pytest

from ylm.tokenizer.train import TokenizerConfig, train_tokenizer

CORPUS = ["the cat sat on the mat. " * 30, "a dog ran in the park, the dog sat. " * 30]


def test_a_vocabulary_the_corpus_cannot_fill_is_refused_with_the_size_reached() -> None:
    with pytest.raises(ValueError, match=r"vocab_size=8192: the corpus supplies only \d+ BPE entries"):
        train_tokenizer(CORPUS, TokenizerConfig(vocab_size=8192))
    small = train_tokenizer(CORPUS, TokenizerConfig(vocab_size=8192), allow_smaller=True)
    assert 256 + 16 < small.get_vocab_size() < 8192


@pytest.mark.parametrize("config, field", [
    ({"vocab_size": 512.0}, "vocab_size"),
    ({"vocab_size": "512"}, "vocab_size"),
    ({"special_slots": True}, "special_slots"),
    ({"min_frequency": 0}, "min_frequency"),
    ({"pretokenizer": "bert"}, "pretokenizer"),
    ({"digits": 4}, "digits"),
])
def test_config_fields_are_checked(config: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        train_tokenizer(CORPUS, TokenizerConfig(**{"vocab_size": 300, **config}))


def test_wrong_config_type_and_non_text_documents() -> None:
    with pytest.raises(ValueError, match="config of type dict"):
        train_tokenizer(CORPUS, {"vocab_size": 300})
    with pytest.raises(ValueError, match=r"texts\[1\] is a bytes"):
        train_tokenizer([CORPUS[0], b"bytes are not text"], TokenizerConfig(vocab_size=300))
