"""Render trajectories to the Youtu-LLM chat format with a loss mask.

The format is what the released Youtu-LLM-2B chat template writes (paper_facts §2.1, its behaviour
described in words)::

    <|begin_of_text|>{system}[\\n\\n<|begin_of_tool_description|>...```json\\n{tool}\\n```...<|end_of_tool_description|>]
    <|User|>{query}<|Assistant|><think>\\n{thinking}\\n</think>\\n\\n{answer}<tool_call>{json}</tool_call>
    \\n<tool_call>{json}</tool_call><|end_of_text|>
    <|User|><tool_response>{observation}</tool_response>\\n<tool_response>...</tool_response><|Assistant|>...

Parallel calls and the responses of one tool turn are separated by a newline. Thinking is part of the
assistant text, and the template treats it by position (``THINKING_MODES``):

* ``thinking="template"`` (default): an assistant turn before the first tool exchange loses its think block
  (and the newlines after it) unless it is the last turn; from the turn that makes the first tool call on,
  thinking is kept. A trajectory whose thinking matters in early non-tool turns (a multi-turn chat, say)
  loses that thinking from the training text, as the released template renders such conversations.
* ``thinking="all"``: every think block kept; the kit's opt-in for training on all thinking.

In both, a last turn without thinking gets the empty think block ``<think>\\n\\n</think>\\n\\n``
(``EMPTY_THINK``), so ``thinking=None`` and ``""`` render alike there. ``as_rendered`` is the trajectory the
text holds after those two rules; rendering is the plain rendering of it.

Training on a rendered trajectory minimises the next-token loss only where the mask is 1:

    L = - sum_t m_t log p(x_t | x_<t) / sum_t m_t,   m_t = 1 for assistant thinking, text, tool calls and
    the closing <|end_of_text|>; 0 for <|begin_of_text|>, the system prompt, the tool block, user turns,
    tool responses (the environment wrote them) and the <|User|>/<|Assistant|> headers.

A failed branch's attempt is supervised or context only (``branch_mode``), the whole turn, its thinking
included; its reflection and fix always are. Agentic-CoT phases are written inside ``<think>`` as
``## Analysis`` / ``## Plan`` / ... sections (the paper's own serialization is unpublished), so they and the
branches fit the same template. The mask is computed on characters, then mapped to tokens through the
tokenizer's offsets, so any tokenizer with ``encode(text) -> .ids, .offsets`` works. ``ylm.agent.parse``
reads the text back; ``ylm.agent.chat_template`` gives ``transformers`` a Jinja template that renders the
same text; the released template has no ``{% generation %}`` markers, so the masks come from here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ylm.agent.schema import needs_json_escape
from ylm.agent.trajectory import (
    AssistantTurn,
    Branch,
    ToolCall,
    ToolTurn,
    Trajectory,
    Turn,
    UserTurn,
    need_arg,
)
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
EMPTY_THINK = f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n"
BRANCH_MODES: tuple[str, ...] = ("supervised", "context")
THINKING_MODES: tuple[str, ...] = ("template", "all")


def dumps(obj: Any) -> str:
    """The one JSON spelling used everywhere (same as transformers' ``tojson`` filter), strict: NaN and
    Infinity are a ValueError, never written."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def wrap_tool(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI/Qwen tool entry: ``{"type": "function", "function": schema}``."""
    return {"type": "function", "function": schema}


def unwrap_tool(entry: Any) -> Any:
    """The schema inside an OpenAI/Qwen tool entry (``wrap_tool``'s inverse); any other entry unchanged, for
    ``validate`` to judge."""
    if isinstance(entry, dict) and entry.get("type") == "function" and "function" in entry:
        return entry["function"]
    return entry


def tool_block(tools: list[dict[str, Any]]) -> str:
    """The tool description block for ``tools``. The template writes it whenever it is given a tool list, an
    empty one too (``tool_block([])``); a trajectory without tools is a conversation given none, so
    ``render_segments`` writes it only for a non-empty list."""
    return TOOLS_HEAD + "".join(f"\n```json\n{dumps(wrap_tool(t))}\n```" for t in tools) + TOOLS_TAIL


def render_call(call: ToolCall) -> str:
    """``<tool_call>{"name": ..., "arguments": ...}</tool_call>``. The template writes the name between quotes
    as it is, unescaped, so a name JSON would have to escape is a ValueError rather than a payload that is
    not JSON."""
    if needs_json_escape(call.name):
        raise ValueError(
            f"tool name {call.name!r} needs JSON escaping, which the Youtu template does not do; "
            "use a name without quotes, backslashes or control characters"
        )
    return f'{CALL_OPEN}{{"name": "{call.name}", "arguments": {dumps(call.arguments)}}}{CALL_CLOSE}'


def render_content(thinking: str | None, content: str) -> str:
    """An assistant message's text: ``<think>\\n{thinking}\\n</think>\\n\\n`` (none for ``None``), then the
    answer. This is the ``content`` the template reads; ``ylm.agent.convert`` exports it."""
    return ("" if thinking is None else f"{THINK_OPEN}\n{thinking}\n{THINK_CLOSE}\n\n") + content


def render_assistant_body(turn: AssistantTurn) -> str:
    """What follows ``<|Assistant|>``: think block, answer text, tool calls one a line, ``<|end_of_text|>``."""
    calls = "\n".join(render_call(c) for c in turn.tool_calls)
    return render_content(turn.thinking_text(), turn.content) + calls + EOS


def render_tool_turn(turn: ToolTurn) -> str:
    return USER + "\n".join(RESP_OPEN + r.content + RESP_CLOSE for r in turn.responses)


def _check_thinking_mode(thinking: str) -> None:
    if thinking not in THINKING_MODES:
        raise ValueError(f"thinking {thinking!r} is not valid; allowed: {', '.join(THINKING_MODES)}")


def as_rendered(traj: Trajectory, thinking: str = "template") -> Trajectory:
    """The trajectory the rendered text holds: with ``thinking="template"`` the assistant turns before the
    first tool exchange (the turn making the first calls and the last turn excepted) lose their thinking and
    the leading newlines of their answer, as the template cuts them; in both modes a last turn without
    thinking gets ``""`` (the empty think block). ``parse_rendered(render_text(t, thinking=m)[0])`` equals
    ``as_rendered(t, m)``; a turn that held only thinking is left empty, which ``validate`` rejects."""
    _check_thinking_mode(thinking)
    flat = traj.flat_turns()
    first_tool = next((j for j, (_, t, _) in enumerate(flat) if isinstance(t, ToolTurn)), len(flat))

    def shown(turn: AssistantTurn, j: int) -> AssistantTurn:
        # j < first_tool - 1 excludes the turn whose calls the first tool turn answers, and the last turn
        if thinking == "template" and j < first_tool - 1 and turn.thinking_text() is not None:
            return dataclasses.replace(turn, thinking=None, phases=[], content=turn.content.lstrip("\n"))
        if j == len(flat) - 1 and turn.thinking_text() is None:
            return dataclasses.replace(turn, thinking="")
        return turn

    turns: list[Turn] = []
    j = 0  # position in flat_turns(): a branch is two
    for turn in traj.turns:
        if isinstance(turn, Branch):
            turns.append(Branch(shown(turn.attempt, j), turn.observation))
            j += 2
        else:
            turns.append(shown(turn, j) if isinstance(turn, AssistantTurn) else turn)
            j += 1
    return dataclasses.replace(traj, turns=turns)


# ---------------------------------------------------------------- rendering with a mask


@dataclass
class Rendered:
    """Rendered text, supervised character spans, and (with a tokenizer) token ids and the loss mask."""

    text: str
    spans: list[tuple[int, int]]
    ids: list[int] | None = None
    mask: list[int] | None = None


SEGMENT_KINDS: tuple[str, ...] = ("system", "user", "tool", "header", "assistant", "failed_attempt")


def render_segments(traj: Trajectory, thinking: str = "template") -> tuple[str, list[tuple[int, int, str]]]:
    """Rendered text cut into (start, end, kind) segments, kind in ``SEGMENT_KINDS``.

    ``system`` is BOS + system prompt + tool block; ``header`` is ``<|Assistant|>``; ``failed_attempt`` is the
    assistant body of a failed branch's attempt."""
    shown = as_rendered(traj, thinking)
    tools = tool_block(traj.tools) if traj.tools else ""
    system = BOS + traj.system + ("\n\n" if traj.system and tools else "") + tools
    segments = [(0, len(system), "system")]
    parts, pos = [system], len(system)

    def add(piece: str, kind: str) -> None:
        nonlocal pos
        parts.append(piece)
        segments.append((pos, pos + len(piece), kind))
        pos += len(piece)

    for _, turn, failed in shown.flat_turns():
        if isinstance(turn, UserTurn):
            add(USER + turn.content, "user")
        elif isinstance(turn, ToolTurn):
            add(render_tool_turn(turn), "tool")
        else:
            add(ASSISTANT, "header")
            add(render_assistant_body(turn), "failed_attempt" if failed else "assistant")
    return "".join(parts), segments


def render_text(
    traj: Trajectory, branch_mode: str = "supervised", thinking: str = "template"
) -> tuple[str, list[tuple[int, int]]]:
    """Youtu-format text and the [start, end) character spans the loss is taken on."""
    if branch_mode not in BRANCH_MODES:
        raise ValueError(f"branch_mode {branch_mode!r} is not valid; allowed: {', '.join(BRANCH_MODES)}")
    text, segments = render_segments(traj, thinking)
    supervised = {"assistant"} | ({"failed_attempt"} if branch_mode == "supervised" else set())
    return text, [(a, b) for a, b, kind in segments if kind in supervised]


def generation_prompt(enable_thinking: bool = True, forced_thinking: bool = False) -> str:
    """What ``add_generation_prompt=True`` appends after a user or tool turn: ``<|Assistant|>``, then the
    empty think block when thinking is off, or an opened ``<think>\\n`` when it is forced (off wins)."""
    need_arg(enable_thinking, bool, "enable_thinking")
    need_arg(forced_thinking, bool, "forced_thinking")
    if not enable_thinking:
        return ASSISTANT + EMPTY_THINK
    return ASSISTANT + (f"{THINK_OPEN}\n" if forced_thinking else "")


def render_prompt(
    traj: Trajectory, thinking: str = "template", enable_thinking: bool = True, forced_thinking: bool = False
) -> str:
    """The prompt a model completes to produce the trajectory's last assistant turn: everything before that
    turn, then ``generation_prompt`` (what the template gives for the conversation without its last message
    and ``add_generation_prompt=True``). The default prompt is a prefix of the rendered text, and so is the
    ``enable_thinking=False`` one when the last turn has no thinking, and the ``forced_thinking`` one when it
    has some."""
    text, segments = render_segments(traj, thinking)
    headers = [start for start, _, kind in segments if kind == "header"]
    if not headers:
        raise ValueError("the trajectory has no assistant turn to prompt for")
    return text[: headers[-1]] + generation_prompt(enable_thinking, forced_thinking)


def encode(tokenizer: Any, text: str) -> Any:
    """``text`` encoded as it stands (ids and offsets), by an HF ``tokenizers.Tokenizer`` or a
    ``transformers`` tokenizer."""
    tokenizer = getattr(tokenizer, "backend_tokenizer", tokenizer)  # a transformers tokenizer wraps an HF one
    try:  # HF tokenizers.Tokenizer: the format's specials are in the text, never added
        return tokenizer.encode(text, add_special_tokens=False)
    except TypeError:
        return tokenizer.encode(text)


def mask_from_spans(text: str, spans: list[tuple[int, int]], tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids and a 0/1 mask: a token is supervised when its characters lie in a supervised span."""
    enc = encode(tokenizer, text)
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


def token_segment_kinds(traj: Trajectory, tokenizer: Any, thinking: str = "template") -> list[str]:
    """The segment kind (``SEGMENT_KINDS``) of each token of the rendered trajectory, via its offsets."""
    text, segments = render_segments(traj, thinking)
    enc = encode(tokenizer, text)
    return [next(kind for a, b, kind in segments if a <= start < b) for start, _ in enc.offsets]


def render(
    traj: Trajectory,
    tokenizer: Any = None,
    branch_mode: str = "supervised",
    check: bool = True,
    thinking: str = "template",
) -> Rendered:
    """Validate (unless ``check=False``) and render; with a tokenizer, also ids and the loss mask."""
    if check:
        validate(traj)
    text, spans = render_text(traj, branch_mode, thinking)
    if tokenizer is None:
        return Rendered(text, spans)
    ids, mask = mask_from_spans(text, spans, tokenizer)
    return Rendered(text, spans, ids, mask)


def mask_html(text: str, mask: list[int], tokenizer: Any) -> str:
    """HTML of the tokens, supervised ones green and context ones grey (for notebooks)."""
    import html

    enc = encode(tokenizer, text)
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
