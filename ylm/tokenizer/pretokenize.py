"""Pre-tokenization: the regex that cuts text into pieces no token may cross, then the byte-level mapping.

A byte-level BPE tokenizer turns text into ids in three steps:

1. *pre-tokenization*: a regex cuts the text into pieces ("words"); no token ever crosses a piece boundary;
2. each piece is mapped to bytes (shown as 256 printable characters, GPT-2's ``bytes_to_unicode``);
3. the learned merges are applied in rank order inside each piece.

The paper's tokenizer differs from Llama 3's mostly in step 1 (``paper_facts.md`` §2): English follows the
GPT-4o (o200k) regex, but numbers are split into single digits 0-9 and every CJK character, kana, hangul
syllable and CJK punctuation mark is its own piece. ``split_pattern`` builds these regexes ("youtu",
"o200k", "llama3") with a selectable digit group (1, 2 or 3 digits per piece) for the ablations.

"superword" is the relaxed pattern of a SuperBPE-style second stage (``ylm.tokenizer.superword``): a piece is
a run of anything but digits and line breaks, so tokens may bridge spaces, punctuation and CJK characters,
while digit groups and runs of line breaks (with the spaces around them) stay pieces of their own.
"""

from __future__ import annotations

from tokenizers import Regex, pre_tokenizers

PRETOKENIZERS: tuple[str, ...] = ("youtu", "o200k", "llama3", "superword")
DIGIT_GROUPS: tuple[int, ...] = (1, 2, 3)
DEFAULT_DIGITS = {"youtu": 1, "o200k": 3, "llama3": 3, "superword": 1}

# One piece per character for these: CJK ideographs, kana, hangul, CJK punctuation and full-width forms.
_CJK = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
    r"\x{3000}-\x{303F}\x{30FB}-\x{30FC}\x{FE30}-\x{FE4F}\x{FF00}-\x{FFEF}"
)
_CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"


def split_pattern(pretokenizer: str = "youtu", digits: int | None = None) -> str:
    """The regex of a pre-tokenizer, with numbers cut into groups of at most ``digits``."""
    if pretokenizer not in PRETOKENIZERS:
        raise ValueError(f"unknown pretokenizer {pretokenizer!r}; valid pretokenizers are: {', '.join(PRETOKENIZERS)}")
    digits = DEFAULT_DIGITS[pretokenizer] if digits is None else digits
    if digits not in DIGIT_GROUPS:
        raise ValueError(f"digits must be one of {DIGIT_GROUPS}, got {digits!r}")
    num = r"\p{N}" if digits == 1 else rf"\p{{N}}{{1,{digits}}}"
    if pretokenizer == "superword":
        return rf"{num}|\s*[\r\n]+|[^\r\n\p{{N}}]+"
    if pretokenizer == "llama3":
        return (
            rf"{_CONTRACTIONS}|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|{num}| ?[^\s\p{{L}}\p{{N}}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+"
        )
    cjk = _CJK if pretokenizer == "youtu" else ""
    # Letter classes of o200k; for "youtu" the CJK characters are taken out so they stay single pieces.
    upper = r"\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}"
    lower = r"\p{Ll}\p{Lm}\p{Lo}\p{M}"
    if cjk:
        upper, lower = f"{upper}&&[^{cjk}]", f"{lower}&&[^{cjk}]"
    lead = rf"[^\r\n\p{{L}}\p{{N}}{cjk}]?"
    words = f"{lead}[{upper}]*[{lower}]+{_CONTRACTIONS}?|{lead}[{upper}]+[{lower}]*{_CONTRACTIONS}?"
    rest = rf"{num}| ?[^\s\p{{L}}\p{{N}}{cjk}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    return (f"[{cjk}]|" if cjk else "") + f"{words}|{rest}"


def make_pre_tokenizer(pretokenizer: str = "youtu", digits: int | None = None) -> pre_tokenizers.PreTokenizer:
    """Regex split (every character kept, matches and gaps alike) followed by the byte-level mapping."""
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split_pattern(pretokenizer, digits)), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
