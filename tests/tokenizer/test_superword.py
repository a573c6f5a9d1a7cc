"""The superword stage: tokens bridge spaces and CJK characters but never digits, line breaks or special
tokens; every byte round-trips; the file loads in transformers with identical ids."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ylm.tokenizer.byte_level import token_bytes
from ylm.tokenizer.pretokenize import make_pre_tokenizer
from ylm.tokenizer.special_tokens import YOUTU_SPECIAL_TOKENS
from ylm.tokenizer.staged import byte_vocab, vocab_from_tokenizer
from ylm.tokenizer.superword import add_superwords, youtu_superword
from ylm.tokenizer.train import TokenizerConfig, encode_plain, save_tokenizer, train_tokenizer

PROSE = [
    "In the end of the day the council of the city voted for the plan of the year. " * 3,
    "The result of the test is in the table; the result of the run is in the log.\n" * 2,
    "数学推理和代码生成是数学推理的基础。代码生成需要数学推理。\n" * 3,
    "Call 1234 or 5678 at 9 a.m. on the 12th, then call 1234 again.\n\n",
    "def area(r):\n    return 3.14159 * r * r\n\nprint(area(2))\n" * 2,
]
CONFIG = TokenizerConfig(vocab_size=256 + 16 + 170, special_slots=16, min_frequency=2)


@pytest.fixture(scope="module")
def superword_tok():
    subwords = vocab_from_tokenizer(train_tokenizer(PROSE, TokenizerConfig(vocab_size=256 + 16 + 120),
                                                    allow_smaller=True))
    return add_superwords(subwords, PROSE, CONFIG)


def boundary_violations(tok, texts) -> list[str]:
    """Tokens (as text) that hold a digit beside anything else, or a line break beside a non-space."""
    bad = []
    for text in texts:
        for i in encode_plain(tok, text):
            piece = token_bytes(tok.id_to_token(i)).decode("utf-8", errors="replace")
            if any(ch.isdigit() for ch in piece) and len(piece) > 1:
                bad.append(piece)
            if ("\n" in piece or "\r" in piece) and piece.strip():
                bad.append(piece)
    return bad


def test_superwords_bridge_spaces_and_cjk(superword_tok):
    pieces = [token_bytes(t).decode("utf-8", errors="replace") for t in vocab_from_tokenizer(superword_tok).tokens]
    assert any(" " in p.strip() for p in pieces)  # e.g. "of the": a space inside, not only in front
    assert any(sum("\u4e00" <= ch <= "\u9fff" for ch in p) >= 2 for p in pieces)  # multi-character Chinese
    assert superword_tok.get_vocab_size(with_added_tokens=False) == CONFIG.bpe_size


def test_superwords_respect_digits_and_line_breaks(superword_tok):
    rng = random.Random(0)
    words = "the of result 12 7 数学 推理 \n \n\n ( ) , 3.5 call".split(" ")
    texts = PROSE + ["".join(rng.choice(words) + rng.choice([" ", "", "\n"]) for _ in range(200))
                     for _ in range(20)]
    assert boundary_violations(superword_tok, texts) == []


def test_boundary_check_catches_a_digit_merging_tokenizer():
    # The same corpus under groups of 3 digits: "123" tokens exist, and the check must flag them.
    loose = TokenizerConfig(vocab_size=256 + 16 + 300, pretokenizer="superword", digits=3)
    loose_tok = train_tokenizer(PROSE * 3, loose, allow_smaller=True)
    assert boundary_violations(loose_tok, PROSE)


def test_special_tokens_stay_atomic(superword_tok):
    for special in YOUTU_SPECIAL_TOKENS:
        ids = superword_tok.encode(f"the result of{special}the result").ids
        assert superword_tok.token_to_id(special) in ids


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_every_byte_round_trips(superword_tok, text):
    assert superword_tok.decode(encode_plain(superword_tok, text)) == text


def test_transformers_fast_tokenizer_gives_the_same_ids(superword_tok, tmp_path):
    from transformers import PreTrainedTokenizerFast

    path = save_tokenizer(superword_tok, tmp_path / "superword.json")
    fast = PreTrainedTokenizerFast(tokenizer_file=str(path))
    for text in PROSE + ["数学推理 of the 42\n\nx"]:
        assert fast(text, add_special_tokens=False)["input_ids"] == encode_plain(superword_tok, text)


def test_encoding_uses_the_learned_superwords(superword_tok):
    # The merges were learned on the stage-A segmentation of the coarse pieces; the encoder applies the same
    # merges in rank order, so the training text itself must come out with multi-word tokens.
    pieces = [token_bytes(superword_tok.id_to_token(i)).decode("utf-8", errors="replace")
              for i in encode_plain(superword_tok, PROSE[0])]
    assert any(" " in p.strip() for p in pieces) and len(pieces) < len(PROSE[0].split())
    pre = make_pre_tokenizer("superword")
    assert [p for p, _ in pre.pre_tokenize_str("ab 12\n\ncd")] == ["abĠ", "1", "2", "ĊĊ", "cd"]


def test_youtu_superword_sizes_and_bad_share():
    source = vocab_from_tokenizer(train_tokenizer(PROSE * 2, TokenizerConfig(vocab_size=256 + 16 + 400,
                                                                            pretokenizer="llama3"),
                                                  allow_smaller=True))
    config = TokenizerConfig(vocab_size=256 + 16 + 180, special_slots=16)
    tok, report = youtu_superword(source, [PROSE[4:]], PROSE, config, superword_share=0.1, base_size=256 + 100)
    # 10% of 436 entries: 44 superword slots; stage A fills the other 392 (or fewer, if its sources run out)
    assert report["subword_size"] <= 392 and report["superwords"] >= 44
    assert report["subword_size"] + report["superwords"] == report["bpe_size"] == 436
    assert tok.get_vocab_size(with_added_tokens=False) == 436
    for bad in (1.0, -0.1, "0.2", True, float("nan")):
        with pytest.raises(ValueError, match="superword_share"):
            youtu_superword(source, [PROSE], PROSE, config, superword_share=bad)
    with pytest.raises(ValueError, match="superword stage reached"):
        add_superwords(byte_vocab(), ["ab ab"], config)
