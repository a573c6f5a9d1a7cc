"""Byte-level BPE tokenizers with Youtu-style pre-tokenization, trained on HF ``tokenizers``.

A byte-level BPE tokenizer turns text into ids in three steps:

1. *pre-tokenization*: a regex cuts the text into pieces ("words"); no token ever crosses a piece boundary;
2. each piece is mapped to bytes (shown as 256 printable characters, GPT-2's ``bytes_to_unicode``);
3. the learned merges are applied in rank order inside each piece.

Training is the greedy loop ``merge_t = argmax_{(a,b)} count_t(a, b)`` over adjacent symbol pairs, counted
over the corpus's unique pieces weighted by their frequency, until ``vocab_size`` entries exist.

The paper's tokenizer differs from Llama 3's mostly in step 1 (``paper_facts.md`` §2): English follows the
GPT-4o (o200k) regex, but numbers are split into single digits 0-9 and every CJK character, kana, hangul
syllable and CJK punctuation mark is its own piece. ``split_pattern`` builds these regexes ("youtu",
"o200k", "llama3") with a selectable digit group (1, 2 or 3 digits per piece) for the ablations.

Special tokens (``YOUTU_SPECIAL_TOKENS`` plus reserved slots) are appended after the BPE entries, as in
Llama 3's layout (128,000 BPE + 256 special slots = 128,256). They are registered as *special added
tokens*: ``tok.encode(rendered_chat)`` turns their spelling into one id (what a chat template needs), while
``encode_plain`` treats the same spelling as ordinary text, so document text can never inject a control id.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from ylm.paths import CACHE_DIR

PRESETS: tuple[str, ...] = ("youtu", "o200k", "llama3")
DIGIT_GROUPS: tuple[int, ...] = (1, 2, 3)
DEFAULT_DIGITS = {"youtu": 1, "o200k": 3, "llama3": 3}

YOUTU_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|User|>",
    "<|Assistant|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<|begin_of_tool_description|>",
    "<|end_of_tool_description|>",
)

# One piece per character for these: CJK ideographs, kana, hangul, CJK punctuation and full-width forms.
_CJK = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
    r"\x{3000}-\x{303F}\x{30FB}-\x{30FC}\x{FE30}-\x{FE4F}\x{FF00}-\x{FFEF}"
)
_CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"


def split_pattern(preset: str = "youtu", digits: int | None = None) -> str:
    """The pre-tokenization regex of a preset, with numbers cut into groups of at most ``digits``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets are: {', '.join(PRESETS)}")
    digits = DEFAULT_DIGITS[preset] if digits is None else digits
    if digits not in DIGIT_GROUPS:
        raise ValueError(f"digits must be one of {DIGIT_GROUPS}, got {digits!r}")
    num = r"\p{N}" if digits == 1 else rf"\p{{N}}{{1,{digits}}}"
    if preset == "llama3":
        return (
            rf"{_CONTRACTIONS}|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|{num}| ?[^\s\p{{L}}\p{{N}}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+"
        )
    cjk = _CJK if preset == "youtu" else ""
    # Letter classes of o200k; for "youtu" the CJK characters are taken out so they stay single pieces.
    upper = r"\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}"
    lower = r"\p{Ll}\p{Lm}\p{Lo}\p{M}"
    if cjk:
        upper, lower = f"{upper}&&[^{cjk}]", f"{lower}&&[^{cjk}]"
    lead = rf"[^\r\n\p{{L}}\p{{N}}{cjk}]?"
    words = f"{lead}[{upper}]*[{lower}]+{_CONTRACTIONS}?|{lead}[{upper}]+[{lower}]*{_CONTRACTIONS}?"
    rest = rf"{num}| ?[^\s\p{{L}}\p{{N}}{cjk}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    return (f"[{cjk}]|" if cjk else "") + f"{words}|{rest}"


def make_pre_tokenizer(preset: str = "youtu", digits: int | None = None) -> pre_tokenizers.PreTokenizer:
    """Regex split (every character kept, matches and gaps alike) followed by the byte-level mapping."""
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split_pattern(preset, digits)), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


@dataclass(frozen=True)
class TokenizerConfig:
    """What a kit tokenizer is: total size, pre-tokenization and special slots."""

    vocab_size: int = 8192  # all entries: BPE (incl. the 256 bytes) + special slots
    preset: str = "youtu"
    digits: int | None = None  # None: the preset's own (youtu 1, o200k/llama3 3)
    special_slots: int = 16  # named Youtu specials + reserved; Llama 3's layout uses 256
    min_frequency: int = 2  # a pair seen fewer times is never merged

    @property
    def bpe_size(self) -> int:
        return self.vocab_size - self.special_slots

    def validate(self) -> None:
        split_pattern(self.preset, self.digits)  # raises for a bad preset or digit group
        if self.special_slots < len(YOUTU_SPECIAL_TOKENS):
            raise ValueError(
                f"special_slots must be >= {len(YOUTU_SPECIAL_TOKENS)} (the named Youtu specials), "
                f"got {self.special_slots}"
            )
        if self.bpe_size < 256:
            raise ValueError(
                f"vocab_size must be >= 256 + special_slots = {256 + self.special_slots} "
                f"(the byte alphabet plus the special slots), got {self.vocab_size}"
            )
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {self.min_frequency}")


def special_tokens(slots: int) -> list[str]:
    """The named Youtu specials followed by ``<|reserved_special_token_i|>`` up to ``slots`` entries."""
    n_reserved = slots - len(YOUTU_SPECIAL_TOKENS)
    return list(YOUTU_SPECIAL_TOKENS) + [f"<|reserved_special_token_{i}|>" for i in range(n_reserved)]


def _non_empty(texts: Iterable[str], field: str = "texts") -> list[str]:
    """The non-empty documents of a corpus; a bare ``str`` is refused (iterating it would yield characters)."""
    if isinstance(texts, str | bytes):
        raise ValueError(
            f"{field} must be an iterable of documents (e.g. a list of str), got a single {type(texts).__name__}; "
            f"wrap one document as [text]"
        )
    kept = [t for t in texts if t]
    if not kept:
        raise ValueError("texts is empty: training needs at least one non-empty text")
    return kept


def assemble(model: models.BPE, config: TokenizerConfig) -> Tokenizer:
    """Wrap a BPE model with the config's pre-tokenizer, byte-level decoder and special tokens."""
    tok = Tokenizer(model)
    tok.pre_tokenizer = make_pre_tokenizer(config.preset, config.digits)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False) for s in special_tokens(config.special_slots)]
    )
    return tok


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig | None = None) -> Tokenizer:
    """Train a byte-level BPE tokenizer in one stage with HF ``tokenizers`` (deterministic)."""
    config = config or TokenizerConfig()
    config.validate()
    texts = _non_empty(texts)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = make_pre_tokenizer(config.preset, config.digits)
    trainer = trainers.BpeTrainer(
        vocab_size=config.bpe_size,
        min_frequency=config.min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return assemble(tok.model, config)


def encode_plain(tok: Tokenizer, text: str) -> list[int]:
    """Ids of ``text`` as plain text: a special token's spelling is tokenized like any other string."""
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = True
    try:
        return tok.encode(text, add_special_tokens=False).ids
    finally:
        tok.encode_special_tokens = previous


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Id of each named Youtu special token present in ``tok``."""
    ids = {s: tok.token_to_id(s) for s in YOUTU_SPECIAL_TOKENS}
    return {s: i for s, i in ids.items() if i is not None}


def save_tokenizer(tok: Tokenizer, path: str | Path) -> Path:
    """Write ``tokenizer.json`` (loadable by ``Tokenizer.from_file`` and ``PreTrainedTokenizerFast``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader running in parallel (tests, notebooks) never sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(tok.to_str(pretty=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_tokenizer(path: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def to_transformers(tok: Tokenizer):
    """The same tokenizer as a ``transformers.PreTrainedTokenizerFast`` (BOS/EOS set to the Youtu ones)."""
    from transformers import PreTrainedTokenizerFast  # optional dependency: only imported when asked

    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>"
    )


# ---------------------------------------------------------------------------------------------------------
# The kit's small tokenizer: what later notebooks train models with.

KIT_CONFIG = TokenizerConfig(vocab_size=8192, preset="youtu", special_slots=16, min_frequency=2)
KIT_DOMAINS: tuple[str, ...] = ("general", "stem", "code", "agent")


def _training_code() -> bytes:
    """Source of this file: the training code whose output the kit cache stores."""
    return Path(__file__).read_bytes()


def kit_tokenizer_path(config: TokenizerConfig = KIT_CONFIG) -> Path:
    """Cache file of the kit tokenizer: keyed by the config, the ``tokenizers`` version, the training code
    (this file's source) and the training files, so changing any of them trains a fresh file."""
    from ylm.data import domain_path

    digest = hashlib.sha256(json.dumps(config.__dict__, sort_keys=True).encode())
    digest.update(f"tokenizers=={tokenizers.__version__}".encode())
    digest.update(hashlib.sha256(_training_code()).digest())
    for domain in KIT_DOMAINS:
        digest.update(domain_path(domain, "train").read_bytes())
    return CACHE_DIR / "kit_tokenizer" / f"{config.preset}-{config.vocab_size}-{digest.hexdigest()[:12]}.json"


def kit_tokenizer(config: TokenizerConfig = KIT_CONFIG, refresh: bool = False) -> Tokenizer:
    """The kit's small Youtu-style tokenizer, trained on every committed train split, cached in .cache/.

    The cache key (``kit_tokenizer_path``) hashes the config, the ``tokenizers`` version, this file's source
    and the training files, so editing any of them retrains it. Training is deterministic, so two machines
    with the same inputs build byte-identical files.
    """
    from ylm.data import load_texts

    path = kit_tokenizer_path(config)
    if path.exists() and not refresh:
        return load_tokenizer(path)
    texts = [t for domain in KIT_DOMAINS for t in load_texts(domain, "train")]
    tok = train_tokenizer(texts, config)
    save_tokenizer(tok, path)
    return tok
