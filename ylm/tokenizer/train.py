"""Training a byte-level BPE tokenizer in one stage with HF ``tokenizers``, and the kit's tokenizer helpers.

Training is the greedy loop ``merge_t = argmax_{(a,b)} count_t(a, b)`` over adjacent symbol pairs, counted
over the corpus's unique pre-tokenized pieces weighted by their frequency, until ``vocab_size`` entries exist
(``ylm.tokenizer.pretokenize`` gives the pieces).

Special tokens (``special_tokens.YOUTU_SPECIAL_TOKENS`` plus reserved slots) are appended after the BPE
entries. They are registered as *special added tokens*: ``tok.encode(rendered_chat)`` turns their spelling
into one id (what a chat template needs), while ``encode_plain`` treats the same spelling as ordinary text,
so document text can never inject a control id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Encoding, Tokenizer, decoders, models, pre_tokenizers, trainers

from ylm.checks import check_int
from ylm.paths import write_text_atomic
from ylm.tokenizer.pretokenize import make_pre_tokenizer, split_pattern
from ylm.tokenizer.special_tokens import BOS, EOS, YOUTU_SPECIAL_TOKENS, special_tokens


@dataclass(frozen=True)
class TokenizerConfig:
    """What a kit tokenizer is: total size, pre-tokenization and special slots."""

    vocab_size: int = 8192  # all entries: BPE (incl. the 256 bytes) + special slots
    pretokenizer: str = "youtu"
    digits: int | None = None  # None: the pre-tokenizer's own (youtu 1, o200k/llama3 3)
    special_slots: int = 16  # named Youtu specials + reserved; Llama 3's layout uses 256
    min_frequency: int = 2  # a pair seen fewer times is never merged

    @property
    def bpe_size(self) -> int:
        return self.vocab_size - self.special_slots

    def validate(self) -> None:
        for name in ("vocab_size", "special_slots", "min_frequency"):
            check_int(name, getattr(self, name), minimum=None)
        split_pattern(self.pretokenizer, self.digits)  # raises for a bad pre-tokenizer or digit group
        special_tokens(self.special_slots)  # raises for too few slots
        if self.bpe_size < 256:
            raise ValueError(
                f"vocab_size must be >= 256 + special_slots = {256 + self.special_slots} "
                f"(the byte alphabet plus the special slots), got {self.vocab_size}"
            )
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {self.min_frequency}")


def nonempty_texts(texts: Iterable[str], field: str = "texts") -> list[str]:
    """The non-empty documents of a corpus; a bare ``str`` is refused (iterating it would yield characters)."""
    if isinstance(texts, str | bytes):
        raise ValueError(
            f"{field} must be an iterable of documents (e.g. a list of str), got a single {type(texts).__name__}; "
            f"wrap one document as [text]"
        )
    kept = []
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{field}[{k}] is a {type(text).__name__}: every document must be a str")
        if text:
            kept.append(text)
    if not kept:
        raise ValueError(f"{field} is empty: training needs at least one non-empty text")
    return kept


def add_special_tokens(tok: Tokenizer, tokens: Sequence[str] = YOUTU_SPECIAL_TOKENS) -> Tokenizer:
    """Register ``tokens`` as special added tokens (matched verbatim, never normalized); returns ``tok``."""
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in tokens])
    return tok


def assemble(model: models.BPE, config: TokenizerConfig) -> Tokenizer:
    """Wrap a BPE model with the config's pre-tokenizer, byte-level decoder and special tokens."""
    tok = Tokenizer(model)
    tok.pre_tokenizer = make_pre_tokenizer(config.pretokenizer, config.digits)
    tok.decoder = decoders.ByteLevel()
    return add_special_tokens(tok, special_tokens(config.special_slots))


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig | None = None,
                    allow_smaller: bool = False) -> Tokenizer:
    """Train a byte-level BPE tokenizer in one stage with HF ``tokenizers`` (deterministic).

    A corpus too small to supply ``config.vocab_size`` entries (too few pairs seen ``min_frequency`` times)
    makes the trainer stop early; that raises ``ValueError`` with the size reached, unless
    ``allow_smaller=True`` accepts the smaller tokenizer."""
    config = config or TokenizerConfig()
    if not isinstance(config, TokenizerConfig):
        raise ValueError(f"config of type {type(config).__name__}: must be a TokenizerConfig or None")
    config.validate()
    texts = nonempty_texts(texts)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = make_pre_tokenizer(config.pretokenizer, config.digits)
    trainer = trainers.BpeTrainer(
        vocab_size=config.bpe_size,
        min_frequency=config.min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    reached = tok.get_vocab_size()
    if reached < config.bpe_size and not allow_smaller:
        raise ValueError(f"vocab_size={config.vocab_size}: the corpus supplies only {reached} BPE entries of the "
                         f"{config.bpe_size} asked for (min_frequency={config.min_frequency}); give more text, "
                         "a smaller vocab_size, or allow_smaller=True")
    return assemble(tok.model, config)


def encode_plain_batch(tok: Tokenizer, texts: Sequence[str]) -> list[Encoding]:
    """Encodings of ``texts`` as plain text: a special token's spelling is tokenized like any other string."""
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = True
    try:
        return tok.encode_batch(list(texts), add_special_tokens=False)
    finally:
        tok.encode_special_tokens = previous


def encode_plain(tok: Tokenizer, text: str) -> list[int]:
    """Ids of ``text`` as plain text (see ``encode_plain_batch``)."""
    return encode_plain_batch(tok, [text])[0].ids


def special_id(tok: Any, token: str) -> int:
    """The id of one special token; a ValueError naming it when ``tok`` lacks it (not a kit tokenizer)."""
    found = tok.token_to_id(token) if hasattr(tok, "token_to_id") else None
    if found is None:
        raise ValueError(f"tokenizer has no {token!r} token; use a kit tokenizer "
                         "(ylm.tokenizer.kit.kit_tokenizer or ylm.tokenizer.train.train_tokenizer)")
    return found


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Id of each named Youtu special token present in ``tok``."""
    ids = {s: tok.token_to_id(s) for s in YOUTU_SPECIAL_TOKENS}
    return {s: i for s, i in ids.items() if i is not None}


def save_tokenizer(tok: Tokenizer, path: str | Path) -> Path:
    """Write ``tokenizer.json`` (loadable by ``Tokenizer.from_file`` and ``PreTrainedTokenizerFast``)."""
    # atomic: a reader running in parallel (tests, notebooks) never sees a half-written file
    return write_text_atomic(path, tok.to_str(pretty=False))


def load_tokenizer(path: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def to_transformers(tok: Tokenizer, chat_template: str | None = None) -> Any:
    """The same tokenizer as a ``transformers.PreTrainedTokenizerFast`` (BOS/EOS set to the Youtu ones),
    optionally with a Jinja ``chat_template`` (``ylm.agent.chat_template`` has the Youtu one).

    transformers is a test/notebook dependency, imported only when this is called."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=chat_template, bos_token=BOS, eos_token=EOS)
