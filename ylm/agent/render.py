"""Render trajectories to the Youtu-LLM chat format with a loss mask.

The format (paper_facts §2.1, reconstructed from ms-swift's Youtu template; no official Jinja was found)::

    <|begin_of_text|>{system}[\\n\\n]<|begin_of_tool_description|>...```json\\n{tool}\\n```...<|end_of_tool_description|>
    <|User|>{query}<|Assistant|><think>\\n{thinking}\\n</think>\\n\\n{answer}<tool_call>{json}</tool_call><|end_of_text|>
    <|User|><tool_response>{observation}</tool_response>\\n<tool_response>...</tool_response><|Assistant|>...

Training on a rendered trajectory minimises the next-token loss only where the mask is 1:

    L = - sum_t m_t log p(x_t | x_<t) / sum_t m_t,   m_t = 1 for assistant thinking, text, tool calls and
    the closing <|end_of_text|>; 0 for <|begin_of_text|>, the system prompt, the tool block, user turns,
    tool responses (the environment wrote them) and the <|User|>/<|Assistant|> headers.

A failed branch's attempt is supervised or context only (``branch_mode``); its reflection and fix always are.
Agentic-CoT phases are written inside ``<think>`` as ``## Analysis`` / ``## Plan`` / ... sections (the paper's
own serialization is unpublished). Every turn keeps its thinking: this is training text, whereas the Instruct
model's serving template drops thinking from earlier turns.
The mask is computed on characters, then mapped to tokens through the tokenizer's offsets, so any tokenizer
with ``encode(text) -> .ids, .offsets`` works. ``ylm.agent.parse`` reads the text back;
``ylm.agent.chat_template`` gives ``transformers`` a Jinja template that renders the same text and mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ylm.agent.trajectory import AssistantTurn, ToolCall, ToolTurn, Trajectory, UserTurn
from ylm.agent.validate import validate
from ylm.tokenizer.special_tokens import (
    ASSISTANT,
    BOS,
    CALL_CLOSE,
    CALL_OPEN,
    EOS,
    RESP_CLOSE,
    RESP_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    TOOLS_CLOSE,
    TOOLS_OPEN,
    USER,
)

TOOLS_HEAD = (
    TOOLS_OPEN + "Tool calling capabilities.\nYou may call one or more functions to assist with the user "
    "query. You have the following functions available:"
)
TOOLS_TAIL = (
    '\nFor tool call returns, you MUST use the following format:\n<tool_call>{"name": "function-name", '
    '"arguments": {"param1": "value1", "param2": "value2"}}</tool_call>\n' + TOOLS_CLOSE
)
BRANCH_MODES: tuple[str, ...] = ("supervised", "context")


def dumps(obj: Any) -> str:
    """The one JSON spelling used everywhere (same as transformers' ``tojson`` filter)."""
    return json.dumps(obj, ensure_ascii=False)


def wrap_tool(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI/Qwen tool entry: ``{"type": "function", "function": schema}``."""
    return {"type": "function", "function": schema}


def tool_block(tools: list[dict[str, Any]]) -> str:
    """The tool description block; empty for no tools (an empty list is the same as no tools)."""
    if not tools:
        return ""
    return TOOLS_HEAD + "".join(f"\n```json\n{dumps(wrap_tool(t))}\n```" for t in tools) + TOOLS_TAIL


def render_call(call: ToolCall) -> str:
    return CALL_OPEN + dumps({"name": call.name, "arguments": call.arguments}) + CALL_CLOSE


def render_assistant_body(turn: AssistantTurn) -> str:
    """What follows ``<|Assistant|>``: think block, answer text, tool calls, ``<|end_of_text|>``."""
    thinking = turn.thinking_text()
    think = "" if thinking is None else f"{THINK_OPEN}\n{thinking}\n{THINK_CLOSE}\n\n"
    return think + turn.content + "".join(render_call(c) for c in turn.tool_calls) + EOS


def render_tool_turn(turn: ToolTurn) -> str:
    return USER + "\n".join(RESP_OPEN + r.content + RESP_CLOSE for r in turn.responses)


# ---------------------------------------------------------------- rendering with a mask


@dataclass
class Rendered:
    """Rendered text, supervised character spans, and (with a tokenizer) token ids and the loss mask."""

    text: str
    spans: list[tuple[int, int]]
    ids: list[int] | None = None
    mask: list[int] | None = None


SEGMENT_KINDS: tuple[str, ...] = ("system", "user", "tool", "header", "assistant", "failed_attempt")


def render_segments(traj: Trajectory) -> tuple[str, list[tuple[int, int, str]]]:
    """Rendered text cut into (start, end, kind) segments, kind in ``SEGMENT_KINDS``.

    ``system`` is BOS + system prompt + tool block; ``header`` is ``<|Assistant|>``; ``failed_attempt`` is the
    assistant body of a failed branch's attempt."""
    system = traj.system + ("\n\n" if traj.system and traj.tools else "") + tool_block(traj.tools)
    segments = [(0, len(BOS + system), "system")]
    parts, pos = [BOS + system], len(BOS + system)

    def add(piece: str, kind: str) -> None:
        nonlocal pos
        parts.append(piece)
        segments.append((pos, pos + len(piece), kind))
        pos += len(piece)

    for _, turn, failed in traj.flat_turns():
        if isinstance(turn, UserTurn):
            add(USER + turn.content, "user")
        elif isinstance(turn, ToolTurn):
            add(render_tool_turn(turn), "tool")
        else:
            add(ASSISTANT, "header")
            add(render_assistant_body(turn), "failed_attempt" if failed else "assistant")
    return "".join(parts), segments


def render_text(traj: Trajectory, branch_mode: str = "supervised") -> tuple[str, list[tuple[int, int]]]:
    """Youtu-format text and the [start, end) character spans the loss is taken on."""
    if branch_mode not in BRANCH_MODES:
        raise ValueError(f"branch_mode {branch_mode!r} is not valid; allowed: {', '.join(BRANCH_MODES)}")
    text, segments = render_segments(traj)
    supervised = {"assistant"} | ({"failed_attempt"} if branch_mode == "supervised" else set())
    return text, [(a, b) for a, b, kind in segments if kind in supervised]


def render_prompt(traj: Trajectory) -> str:
    """The prompt a model completes to produce the trajectory's last assistant turn: everything before that
    turn's body, ending with ``<|Assistant|>`` (what ``add_generation_prompt=True`` gives)."""
    text, segments = render_segments(traj)
    headers = [end for _, end, kind in segments if kind == "header"]
    if not headers:
        raise ValueError("the trajectory has no assistant turn to prompt for")
    return text[: headers[-1]]


def _encode(tokenizer: Any, text: str) -> Any:
    tokenizer = getattr(tokenizer, "backend_tokenizer", tokenizer)  # a transformers tokenizer wraps an HF one
    try:  # HF tokenizers.Tokenizer: the format's specials are in the text, never added
        return tokenizer.encode(text, add_special_tokens=False)
    except TypeError:
        return tokenizer.encode(text)


def mask_from_spans(text: str, spans: list[tuple[int, int]], tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids and a 0/1 mask: a token is supervised when its characters lie in a supervised span."""
    enc = _encode(tokenizer, text)
    char = bytearray(len(text) + 1)
    for start, end in spans:
        char[start:end] = b"\x01" * (end - start)
    mask = []
    for k, (start, end) in enumerate(enc.offsets):
        inside = sum(char[start:end])
        if 0 < inside < end - start:
            raise ValueError(
                f"token {k} ({text[start:end]!r}) straddles a mask boundary; the tokenizer must "
                "split the format's markers out as special tokens"
            )
        mask.append(1 if (inside if end > start else char[start]) else 0)
    return list(enc.ids), mask


def token_segment_kinds(traj: Trajectory, tokenizer: Any) -> list[str]:
    """The segment kind (``SEGMENT_KINDS``) of each token of the rendered trajectory, via its offsets."""
    text, segments = render_segments(traj)
    enc = _encode(tokenizer, text)
    return [next(kind for a, b, kind in segments if a <= start < b) for start, _ in enc.offsets]


def render(
    traj: Trajectory, tokenizer: Any = None, branch_mode: str = "supervised", check: bool = True
) -> Rendered:
    """Validate (unless ``check=False``) and render; with a tokenizer, also ids and the loss mask."""
    if check:
        validate(traj)
    text, spans = render_text(traj, branch_mode)
    if tokenizer is None:
        return Rendered(text, spans)
    ids, mask = mask_from_spans(text, spans, tokenizer)
    return Rendered(text, spans, ids, mask)


def mask_html(text: str, mask: list[int], tokenizer: Any) -> str:
    """HTML of the tokens, supervised ones green and context ones grey (for notebooks)."""
    import html

    enc = _encode(tokenizer, text)
    cells, shown = [], 0
    for (start, end), m in zip(enc.offsets, mask, strict=True):
        colour = "#b7e4c7" if m else "#e9ecef"
        # byte tokens of one character share its offsets: show the character once
        piece = html.escape(text[max(start, shown) : end]).replace("\n", "\u21b5\n")
        shown = max(shown, end)
        cells.append(f'<span style="background:{colour};border-right:1px solid #fff">{piece}</span>')
    return (
        '<div style="font-family:monospace;font-size:12px;line-height:1.6;white-space:pre-wrap">'
        + "".join(cells)
        + "</div>"
    )
