"""How well a tokenizer compresses text: bytes per token, characters per token, and bits per byte.

    ratio     = UTF-8 bytes / tokens                     (higher is better; nanochat's tok_eval ratio)
    rel_diff  = (tokens_baseline - tokens_ours) / tokens_baseline * 100      (positive: ours needs fewer)
    bpb       = sum_t loss_t (nats) / (ln 2 * sum_t bytes(target_t))

Bits per byte divides the summed loss by the raw UTF-8 length of the predicted tokens, so models with
different vocabularies compare fairly. ``token_byte_lengths`` reads each id's *raw bytes* (byte-level
string -> bytes), not decode-then-re-encode, which miscounts tokens that are partial UTF-8 characters; special
tokens count 0 bytes.

The paper claims about +5% tokenization efficiency over Llama 3 on general data and +10% on reasoning data
(``paper_facts.md`` §2); ``compression_table`` computes the same relative number on our held-out text.
``tag_token_counts`` says what the tool-call tags cost each tokenizer when a document is read as plain text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from tokenizers import Tokenizer

from ylm.data import DOMAINS, load_documents, load_texts
from ylm.tokenizer.byte_level import BYTE_DECODER
from ylm.tokenizer.special_tokens import CALL_CLOSE, CALL_OPEN, RESP_CLOSE, RESP_OPEN
from ylm.tokenizer.train import encode_plain, encode_plain_batch

# Short fixed probe texts, written for this kit (no licence strings attached).
PROBES: dict[str, str] = {
    "news": (
        "The city council voted on Tuesday to expand the downtown bus network, adding three routes that will "
        "connect the university district with the hospital and the new housing developments near the river. "
        "Officials said the plan, which follows a year of public hearings, is expected to cut average commute "
        "times and reduce traffic on the main bridge during rush hour. Several residents spoke in favour of "
        "the proposal, while a group of small business owners asked the council to delay construction until "
        "after the holiday season. The mayor promised that work on the busiest streets would be scheduled at "
        "night and that shops would receive compensation for any lost sales. The first of the new routes is "
        "due to open in the spring, with the remaining two following before the end of the year."
    ),
    "latex_math": (
        r"\begin{theorem} For every integer $n \ge 1$, $\sum_{k=1}^{n} k^3 = \left(\frac{n(n+1)}{2}\right)^2$."
        "\n"
        r"\end{theorem}"
        "\n"
        r"\begin{proof} We argue by induction on $n$. For $n = 1$ both sides equal $1$. Assume the identity "
        r"holds for $n$. Then \[ \sum_{k=1}^{n+1} k^3 = \frac{n^2 (n+1)^2}{4} + (n+1)^3 "
        r"= \frac{(n+1)^2 \left(n^2 + 4n + 4\right)}{4} = \left(\frac{(n+1)(n+2)}{2}\right)^2, \] "
        r"which is the claim for $n+1$. \end{proof}"
        "\n"
        r"Similarly, $\int_0^{\infty} e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$ and "
        r"$\lim_{x \to 0} \frac{\sin x}{x} = 1$, so $\nabla \cdot \mathbf{E} = \rho / \varepsilon_0$ "
        r"holds with $\alpha_i \in \mathbb{R}^{d}$ for $i = 1, \dots, m$."
    ),
    "python_code": (
        "def merge_counts(words: dict[str, int], pair: tuple[str, str]) -> dict[str, int]:\n"
        '    """Replace every occurrence of `pair` inside the words and return the new counts."""\n'
        "    merged = {}\n"
        "    left, right = pair\n"
        "    for word, count in words.items():\n"
        "        symbols = word.split(' ')\n"
        "        out, i = [], 0\n"
        "        while i < len(symbols):\n"
        "            if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:\n"
        "                out.append(left + right)\n"
        "                i += 2\n"
        "            else:\n"
        "                out.append(symbols[i])\n"
        "                i += 1\n"
        "        key = ' '.join(out)\n"
        "        merged[key] = merged.get(key, 0) + count\n"
        "    return merged\n\n\n"
        "class RunningMean:\n"
        "    def __init__(self) -> None:\n"
        "        self.total, self.n = 0.0, 0\n\n"
        "    def update(self, value: float) -> float:\n"
        "        self.total += value\n"
        "        self.n += 1\n"
        "        return self.total / max(self.n, 1)\n"
    ),
    "json_tool_calls": (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Shenzhen", "unit": "celsius", '
        '"days": 3}}</tool_call>\n'
        '<tool_response>{"city": "Shenzhen", "forecast": [{"date": "2025-06-01", "high": 31, "low": 26, '
        '"condition": "thunderstorms"}, {"date": "2025-06-02", "high": 30, "low": 25, "condition": "cloudy"}, '
        '{"date": "2025-06-03", "high": 32, "low": 27, "condition": "sunny"}]}</tool_response>\n'
        '<tool_call>{"name": "search_flights", "arguments": {"origin": "SZX", "destination": "PEK", '
        '"departure_date": "2025-06-04", "passengers": 2, "cabin": "economy", "max_price": 1500}}</tool_call>\n'
        '<tool_response>{"results": [{"flight": "CZ3151", "depart": "08:15", "arrive": "11:30", '
        '"price": 1280}, {"flight": "CA1318", "depart": "13:40", "arrive": "16:55", "price": 1420}]}'
        "</tool_response>"
    ),
    "numbers": (
        "Quarterly revenue rose 12.7% to $4,318.25 million, against 3,832.90 million a year earlier. "
        "Units shipped: 1,204,557 (Q1), 1,318,902 (Q2), 1,455,016 (Q3) and 1,602,843 (Q4). "
        "Measured values: 0.000731, 2.718281828, 3.141592653, 6.02214076e23, 1.380649e-23, 299792458. "
        "Order 20250614-0037 shipped on 2025-06-14 at 17:42:09; tracking 9400 1118 9922 3859 2041 07. "
        "Table row: 17 | 42 | 108 | 256 | 1024 | 65536 | 16777216 | 4294967296."
    ),
    "chinese": (
        "人工智能正在改变科学研究的方式。研究人员使用大型语言模型来阅读论文、编写代码和设计实验，"
        "从而把更多时间留给提出问题和解释结果。然而，模型的回答并不总是正确的，"
        "因此需要仔细检查每一个推理步骤。数学和编程题目特别适合检验模型的能力，"
        "因为答案可以被自动验证。为了让模型更好地处理中文，分词器会把每个汉字单独切分，"
        "并为常见的词语学习新的合并规则。"
    ),
}


@dataclass(frozen=True)
class Compression:
    """Token count of one text under one tokenizer."""

    bytes: int
    chars: int
    tokens: int

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / self.tokens if self.tokens else float("nan")

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.tokens else float("nan")


def document_tokens(tok: Tokenizer, texts: str | Sequence[str]) -> list[int]:
    """Token count of each document of ``texts`` (one string counts as one document), read as plain text."""
    docs = [texts] if isinstance(texts, str) else list(texts)
    return [len(e.ids) for e in encode_plain_batch(tok, docs)]


def count_tokens(tok: Tokenizer, texts: str | Sequence[str]) -> Compression:
    """Tokens, bytes and characters of ``texts`` (one string or several documents, each encoded alone).

    Text is encoded as plain text: a special token's spelling inside a document counts as ordinary text.
    """
    docs = [texts] if isinstance(texts, str) else list(texts)
    return Compression(
        bytes=sum(len(d.encode("utf-8")) for d in docs),
        chars=sum(len(d) for d in docs),
        tokens=sum(document_tokens(tok, docs)),
    )


def relative_diff(baseline_tokens: int, tokens: int) -> float:
    """nanochat's relative difference in %: positive when ``tokens`` is smaller than the baseline's."""
    if baseline_tokens <= 0:
        raise ValueError(f"baseline_tokens must be > 0 (the baseline's token count), got {baseline_tokens}")
    return (baseline_tokens - tokens) / baseline_tokens * 100.0


def compression_table(
    tokenizers: Mapping[str, Tokenizer], texts: Mapping[str, str | Sequence[str]], baseline: str = "llama3"
) -> pd.DataFrame:
    """Long-format ``pandas.DataFrame``: one row per (text, tokenizer) with bytes/token, chars/token and
    the relative difference in % against ``baseline`` (nanochat's tok_eval numbers)."""
    if baseline not in tokenizers:
        raise ValueError(f"baseline {baseline!r} must be one of the tokenizers: {', '.join(tokenizers)}")
    rows = []
    for label, text in texts.items():
        counts = {name: count_tokens(tok, text) for name, tok in tokenizers.items()}
        base = counts[baseline].tokens
        for name, c in counts.items():
            rows.append(
                {
                    "text": label,
                    "tokenizer": name,
                    "bytes": c.bytes,
                    "chars": c.chars,
                    "tokens": c.tokens,
                    "bytes_per_token": c.bytes_per_token,
                    "chars_per_token": c.chars_per_token,
                    f"vs_{baseline}_%": relative_diff(base, c.tokens),
                }
            )
    return pd.DataFrame(rows)


def nanochat_table(table: pd.DataFrame, ours: str, baseline: str = "llama3") -> pd.DataFrame:
    """Wide table in nanochat's tok_eval layout for one pair of tokenizers:
    Text Type | Bytes | <baseline> Tokens | <baseline> Ratio | <ours> Tokens | <ours> Ratio | Relative Diff % | Better
    """
    names = list(dict.fromkeys(table["tokenizer"]))
    for field, name in (("ours", ours), ("baseline", baseline)):
        if name not in names:
            raise ValueError(f"{field} {name!r} must be one of the table's tokenizers: {', '.join(names)}")
    rows = []
    for label, group in table.groupby("text", sort=False):
        b = group[group.tokenizer == baseline].iloc[0]
        o = group[group.tokenizer == ours].iloc[0]
        diff = relative_diff(int(b.tokens), int(o.tokens))
        rows.append(
            {
                "Text Type": label,
                "Bytes": int(b.bytes),
                f"{baseline} Tokens": int(b.tokens),
                f"{baseline} Ratio": round(float(b.bytes_per_token), 2),
                f"{ours} Tokens": int(o.tokens),
                f"{ours} Ratio": round(float(o.bytes_per_token), 2),
                "Relative Diff %": round(diff, 1),
                "Better": ours if diff > 0 else (baseline if diff < 0 else "tie"),
            }
        )
    return pd.DataFrame(rows)


def heldout_texts(domains: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The held-out documents of each domain in data_samples/ (what the compression table measures)."""
    return {d: load_texts(d, "heldout") for d in (domains or DOMAINS)}


def heldout_by_source(domain: str) -> dict[str, list[str]]:
    """The held-out documents of one domain grouped by their ``source`` (e.g. stem: champ, sympy-docs), so a
    domain's number can be traced to the corpus it comes from."""
    groups: dict[str, list[str]] = {}
    for doc in load_documents(domain, "heldout"):
        groups.setdefault(doc["source"], []).append(doc["text"])
    return groups


TOOL_TAGS: tuple[str, ...] = (CALL_OPEN, CALL_CLOSE, RESP_OPEN, RESP_CLOSE)


def tag_kind(tok: Tokenizer, tag: str) -> str:
    """How ``tok`` holds ``tag``: "special" (never matched in plain text), "non-special added" (matched even
    in plain text, as Qwen3's ``<tool_call>``) or "no such token" (spelled out in BPE pieces)."""
    added = {a.content: a.special for a in tok.get_added_tokens_decoder().values()}
    if tag not in added:
        return "no such token"
    return "special" if added[tag] else "non-special added"


def tag_token_counts(
    tokenizers: Mapping[str, Tokenizer], text: str, tags: Sequence[str] = TOOL_TAGS
) -> pd.DataFrame:
    """What the tags in ``text`` cost each tokenizer when ``text`` is read as plain text: one row per
    tokenizer with the tags' kind(s), the tokens of each tag encoded alone, the text's tokens and their split
    into ``in_tags`` and ``outside``.

    The split is approximate: each tag is encoded on its own, and in context a tag's last piece can merge with
    the next character (``>{``), so ``in_tags`` counts ``text.count(tag) * tokens(tag)``.
    """
    rows = []
    for name, tok in tokenizers.items():
        per_tag = [len(encode_plain(tok, tag)) for tag in tags]
        in_tags = sum(text.count(tag) * n for tag, n in zip(tags, per_tag, strict=True))
        total = len(encode_plain(tok, text))
        rows.append(
            {
                "tokenizer": name,
                "tag_kind": "/".join(sorted({tag_kind(tok, tag) for tag in tags})),
                "tokens_per_tag": per_tag,
                "tokens": total,
                "in_tags": in_tags,
                "outside": total - in_tags,
            }
        )
    return pd.DataFrame(rows)


def token_byte_lengths(tok: Tokenizer) -> list[int]:
    """Raw UTF-8 byte length of every id of a byte-level tokenizer.

    Special tokens count 0 bytes (they stand for no text); non-special added tokens (Qwen3's ``<tool_call>``,
    which match even in plain text) count the bytes of their spelling.
    """
    added = tok.get_added_tokens_decoder()
    vocab = tok.get_vocab(with_added_tokens=True)
    lengths = [0] * (max(vocab.values()) + 1)  # ids may have gaps (o200k's specials sit at 199999, 200018)
    for token, i in vocab.items():
        if i in added:
            lengths[i] = 0 if added[i].special else len(added[i].content.encode("utf-8"))
        elif any(ch not in BYTE_DECODER for ch in token):
            raise ValueError(f"token {token!r} (id {i}) is not a byte-level token")
        else:
            lengths[i] = len(token)  # one byte-level character stands for exactly one raw byte
    return lengths


def bits_per_byte(loss_sum_nats, target_ids, byte_lengths) -> float:
    """Bits per byte of a summed cross-entropy (nats) over ``target_ids``; special targets weigh 0 bytes.

    ``target_ids`` and ``byte_lengths`` may be sequences or torch tensors (any shape for the ids).
    """
    import torch

    ids = torch.as_tensor(target_ids, dtype=torch.long).reshape(-1)
    lengths = torch.as_tensor(byte_lengths, dtype=torch.long)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(lengths)):
        raise ValueError(
            f"target_ids must lie in [0, {len(lengths) - 1}] (the byte_lengths table of {len(lengths)} ids), "
            f"got ids from {int(ids.min())} to {int(ids.max())}"
        )
    n_bytes = int(lengths[ids].sum())
    if n_bytes == 0:
        raise ValueError("target_ids cover 0 bytes (only special tokens?): bits per byte is undefined")
    return float(loss_sum_nats) / (math.log(2) * n_bytes)


PAPER_CLAIMS = {"general": 5.0, "reasoning": 10.0}  # % fewer tokens than Llama 3 (paper_facts.md §2)


def paper_claim_check(table, ours: str, labels: Mapping[str, str], baseline: str = "llama3") -> list[dict]:
    """Compare measured relative differences with the paper's claims.

    ``labels`` maps each claim ("general", "reasoning") to the text label in ``table`` that stands for it.
    ``holds`` means ours needs at least the claimed % fewer tokens than the baseline; ``same_sign`` only
    that it needs fewer at all; ``verdict`` says the same in words.
    """
    col = f"vs_{baseline}_%"
    rows = []
    for claim, label in labels.items():
        if claim not in PAPER_CLAIMS:
            raise ValueError(f"unknown claim {claim!r}; valid claims are: {', '.join(PAPER_CLAIMS)}")
        hit = table[(table.text == label) & (table.tokenizer == ours)]
        if hit.empty:
            raise ValueError(f"no row for text {label!r} and tokenizer {ours!r} in the table")
        measured = float(hit[col].iloc[0])
        claimed = PAPER_CLAIMS[claim]
        holds, same_sign = measured >= claimed, measured > 0
        rows.append(
            {
                "claim": claim,
                "text": label,
                "paper_%": claimed,
                "measured_%": round(measured, 2),
                "holds": holds,
                "same_sign": same_sign,
                "verdict": "HOLDS" if holds else ("does NOT hold (right direction, smaller)" if same_sign
                                                  else "does NOT hold (ours needs more tokens)"),
            }
        )
    return rows
