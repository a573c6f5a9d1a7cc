"""Render trajectories to the Youtu-LLM chat format with a loss mask, and parse them back.

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
with ``encode(text) -> .ids, .offsets`` works. ``YOUTU_CHAT_TEMPLATE`` is a Jinja template with which
``transformers``' ``apply_chat_template`` renders the same text (and via ``{% generation %}`` the same mask).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ylm.reference_tokenizers import load_reference
from ylm.tokenizer import YOUTU_SPECIAL_TOKENS
from ylm.trajectory import (
    PHASE_HEADER_RE,
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    TrajectoryError,
    Turn,
    UserTurn,
    parse_arguments,
    schema_errors,
    validate,
)

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
USER, ASSISTANT = "<|User|>", "<|Assistant|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESP_OPEN, RESP_CLOSE = "<tool_response>", "</tool_response>"
TOOLS_OPEN, TOOLS_CLOSE = "<|begin_of_tool_description|>", "<|end_of_tool_description|>"
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
    """The segment kind (``SEGMENT_KINDS``) each token of the rendered trajectory falls in, via its offsets."""
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


def mask_html(text: str, ids: list[int], mask: list[int], tokenizer: Any) -> str:
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


# ---------------------------------------------------------------- parsing


class ToolCallParseError(ValueError):
    """A model completion holds a malformed tool call."""


def split_phases(thinking: str) -> list[Phase] | None:
    """Phases when the thinking is written as ``## Phase`` sections, else None."""
    if not PHASE_HEADER_RE.match(thinking):
        return None
    chunks = re.split(r"\n\n(?=## (?:Analysis|Plan|Action|Reflection|Summary)\n)", thinking)
    phases = []
    for chunk in chunks:
        header, _, text = chunk.partition("\n")
        phases.append(Phase(header[3:].lower(), text))
    return phases


def _parse_call(payload: str, k: int) -> ToolCall:
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError as err:
        raise ToolCallParseError(
            f"tool call {k}: payload is not valid JSON ({err}): {payload[:200]!r}"
        ) from err
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ToolCallParseError(
            f"tool call {k}: payload must be an object with a string 'name': {payload[:200]!r}"
        )
    extra = set(obj) - {"name", "arguments"}
    if extra:
        raise ToolCallParseError(f"tool call {k}: unexpected keys {sorted(extra)}; allowed: name, arguments")
    try:
        arguments = parse_arguments(obj.get("arguments", {}), None, f"tool_calls[{k}].arguments")
    except TrajectoryError as err:
        raise ToolCallParseError(f"tool call {k}: {err}") from err
    return ToolCall(obj["name"], arguments)


def parse_assistant_body(body: str) -> AssistantTurn:
    """Parse what an assistant wrote (a rendered turn or a model completion) into thinking, text and calls."""
    body = body.removesuffix(EOS)
    thinking = None
    if body.startswith(THINK_OPEN):
        end = body.find(THINK_CLOSE)
        if end < 0:
            raise ToolCallParseError(f"{THINK_OPEN} is never closed by {THINK_CLOSE}")
        inner = body[len(THINK_OPEN) : end]
        thinking = inner.removeprefix("\n").removesuffix("\n")
        body = body[end + len(THINK_CLOSE) :].removeprefix("\n\n")
    first = body.find(CALL_OPEN)
    content, rest = (body, "") if first < 0 else (body[:first], body[first:])
    if CALL_CLOSE in content:
        raise ToolCallParseError(f"{CALL_CLOSE} without an opening {CALL_OPEN}")
    calls = []
    while rest.strip():
        rest = rest.lstrip()
        if not rest.startswith(CALL_OPEN):
            raise ToolCallParseError(
                f"text after tool call {len(calls) - 1}: {rest[:80]!r}; calls end the turn"
            )
        end = rest.find(CALL_CLOSE)
        if end < 0:
            raise ToolCallParseError(f"tool call {len(calls)}: {CALL_OPEN} is never closed by {CALL_CLOSE}")
        calls.append(_parse_call(rest[len(CALL_OPEN) : end], len(calls)))
        rest = rest[end + len(CALL_CLOSE) :]
    phases = split_phases(thinking) if thinking is not None else None
    if phases is not None:
        return AssistantTurn(content=content, phases=phases, tool_calls=calls)
    return AssistantTurn(content=content, thinking=thinking, tool_calls=calls)


def parse_completion(text: str, tools: list[dict[str, Any]] | None = None) -> list[ToolCall]:
    """The tool calls in a model completion.

    ``ToolCallParseError`` for a malformed call or, when ``tools`` is given, an invalid one."""
    calls = parse_assistant_body(text).tool_calls
    if tools is not None:
        for k, t in enumerate(tools):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise ToolCallParseError(f"tools[{k}].name: every tool needs a string 'name' (a JSON schema)")
        by_name = {t["name"]: t for t in tools}
        for k, call in enumerate(calls):
            if call.name not in by_name:
                raise ToolCallParseError(
                    f"tool call {k}: unknown tool {call.name!r}; known: {', '.join(by_name)}"
                )
            errors = schema_errors(call.arguments, by_name[call.name].get("parameters", {"type": "object"}))
            if errors:
                raise ToolCallParseError(f"tool call {k} ({call.name}): " + "; ".join(errors))
    return calls


def regroup_branches(turns: list[Turn]) -> list[Turn]:
    """Fold (assistant, tool) pairs followed by a turn opening with a reflection phase into ``Branch``es."""
    out: list[Turn] = []
    for turn in turns:
        if (
            isinstance(turn, AssistantTurn)
            and turn.phases
            and turn.phases[0].phase == "reflection"
            and len(out) >= 2
            and isinstance(out[-1], ToolTurn)
            and isinstance(out[-2], AssistantTurn)
        ):
            observation = out.pop()
            out.append(Branch(out.pop(), observation))
        out.append(turn)
    return out


def _parse_tools(block: str) -> list[dict[str, Any]]:
    if not (block.startswith(TOOLS_HEAD) and block.endswith(TOOLS_TAIL)):
        raise ValueError("tool block does not have the Youtu tool-description layout")
    tools = []
    for raw in re.findall(r"\n```json\n(.*?)\n```", block[len(TOOLS_HEAD) : -len(TOOLS_TAIL)], flags=re.S):
        entry = json.loads(raw)
        if not isinstance(entry, dict):
            raise ValueError(f"tool block entry must be a JSON object, got {type(entry).__name__}")
        tools.append(entry["function"] if entry.get("type") == "function" else entry)
    return tools


def parse_rendered(text: str) -> Trajectory:
    """Parse Youtu-format text (as ``render_text`` writes it) back into a trajectory."""
    if not text.startswith(BOS):
        raise ValueError(f"rendered text must start with {BOS}")
    first = text.find(USER)
    if first < 0:
        raise ValueError(f"rendered text has no {USER} turn")
    preamble = text[len(BOS) : first]
    system, tools = preamble, []
    if TOOLS_OPEN in preamble:
        at = preamble.index(TOOLS_OPEN)
        system, tools = preamble[:at].removesuffix("\n\n"), _parse_tools(preamble[at:])
    turns: list[Turn] = []
    rest = text[first:]
    while rest:
        if not rest.startswith(USER):
            raise ValueError(f"expected {USER} at {rest[:40]!r}")
        a = rest.find(ASSISTANT)
        if a < 0:
            raise ValueError(f"a {USER} turn is not followed by {ASSISTANT}")
        user = rest[len(USER) : a]
        if user.startswith(RESP_OPEN):
            prev_calls = turns[-1].tool_calls if turns and isinstance(turns[-1], AssistantTurn) else []
            contents = [
                c.removeprefix(RESP_OPEN) for c in user.removesuffix(RESP_CLOSE).split(RESP_CLOSE + "\n")
            ]
            names = [c.name for c in prev_calls] + [""] * len(contents)
            turns.append(ToolTurn([ToolResponse(n, c) for n, c in zip(names, contents, strict=False)]))
        else:
            turns.append(UserTurn(user))
        e = rest.find(EOS, a)
        if e < 0:
            raise ValueError(f"an {ASSISTANT} turn is not closed by {EOS}")
        turns.append(parse_assistant_body(rest[a + len(ASSISTANT) : e]))
        rest = rest[e + len(EOS) :]
    return Trajectory(turns=regroup_branches(turns), system=system, tools=tools)


# ---------------------------------------------------------------- other message formats


def _openai_assistant(turn: AssistantTurn, index: int) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": turn.content}
    thinking = turn.thinking_text()
    if thinking is not None:
        msg["reasoning_content"] = thinking
    if turn.tool_calls:
        msg["tool_calls"] = [
            {
                "id": f"call_{index}_{k}",
                "type": "function",
                "function": {"name": c.name, "arguments": dumps(c.arguments)},
            }
            for k, c in enumerate(turn.tool_calls)
        ]
    return msg


def to_openai_messages(traj: Trajectory) -> dict[str, Any]:
    """OpenAI chat-completions style: ``{"messages": [...], "tools": [...]}``; branches are flattened."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": traj.system}] if traj.system else []
    last_ids: list[str] = []
    for n, (_, turn, _) in enumerate(traj.flat_turns()):
        if isinstance(turn, UserTurn):
            messages.append({"role": "user", "content": turn.content})
        elif isinstance(turn, AssistantTurn):
            msg = _openai_assistant(turn, n)
            last_ids = [c["id"] for c in msg.get("tool_calls", [])]
            messages.append(msg)
        else:
            messages += [
                {"role": "tool", "tool_call_id": cid, "name": r.name, "content": r.content}
                for cid, r in zip(last_ids, turn.responses, strict=True)
            ]
    return {"messages": messages, "tools": [wrap_tool(t) for t in traj.tools]}


def _openai_call(c: Any, j: int, k: int, turn: int) -> ToolCall:
    """One OpenAI ``tool_calls`` entry ``{"id", "type", "function": {"name", "arguments"}}`` of message k."""
    fn = c.get("function") if isinstance(c, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise TrajectoryError(
            turn,
            f"tool_calls[{j}].function",
            f"message {k}: an OpenAI tool call needs a 'function' object with a string 'name'",
        )
    return ToolCall(fn["name"], parse_arguments(fn.get("arguments", {}), turn, f"tool_calls[{j}].arguments"))


def from_openai_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> Trajectory:
    """Build a trajectory from OpenAI-style messages (e.g. an agent log).

    Consecutive tool messages form one tool turn. A tool message's tool name is its ``name`` or, as in the
    OpenAI API, the name of the call its ``tool_call_id`` answers; when every response has an id they are put
    in call order. An id that answers no call of the previous assistant message is a ``ValueError``; a tool
    call without a ``function`` object (or its ``name``) is a ``TrajectoryError``."""
    system, turns = "", []
    calls: list[ToolCall] = []  # the latest assistant message's calls and their ids
    call_ids: list[str | None] = []
    group: list[tuple[int | None, ToolResponse]] = []  # tool messages not yet folded into a turn

    def flush() -> None:
        if group:
            if all(pos is not None for pos, _ in group):
                group.sort(key=lambda item: item[0])
            turns.append(ToolTurn([r for _, r in group]))
            group.clear()

    for k, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"message {k}: must be an object with a 'role', got {type(msg).__name__}")
        role = msg.get("role")
        if role != "tool":
            flush()
        if role == "system" and k == 0:
            system = msg.get("content") or ""
        elif role == "user":
            turns.append(UserTurn(msg.get("content") or ""))
        elif role == "assistant":
            raw = msg.get("tool_calls") or []
            if not isinstance(raw, list):
                raise TrajectoryError(len(turns), "tool_calls", f"message {k}: must be a list of tool calls")
            calls = [_openai_call(c, j, k, len(turns)) for j, c in enumerate(raw)]
            call_ids = [c.get("id") for c in raw]
            thinking = msg.get("reasoning_content")
            phases = split_phases(thinking) if thinking is not None else None
            turns.append(
                AssistantTurn(
                    content=msg.get("content") or "",
                    thinking=None if phases else thinking,
                    phases=phases or [],
                    tool_calls=calls,
                )
            )
        elif role == "tool":
            cid, pos = msg.get("tool_call_id"), None
            if cid is not None:
                if cid not in call_ids:
                    raise ValueError(
                        f"message {k}: tool_call_id {cid!r} answers no call of the previous assistant "
                        f"message; its call ids are: {', '.join(map(str, call_ids)) or '(none)'}"
                    )
                pos = call_ids.index(cid)
            name = msg.get("name") or (calls[pos].name if pos is not None else "")
            group.append((pos, ToolResponse(name, msg.get("content") or "")))
        else:
            raise ValueError(
                f"message {k}: role {role!r} is not valid; allowed: system (first only), user, "
                "assistant, tool"
            )
    flush()
    return Trajectory(
        turns=regroup_branches(turns),
        system=system,
        tools=[t["function"] if t.get("type") == "function" else t for t in (tools or [])],
    )


def to_hermes_messages(traj: Trajectory) -> list[dict[str, Any]]:
    """Hermes/Qwen style: tools in the system prompt inside ``<tools>``, calls inline as
    ``<tool_call>\\n{json}\\n</tool_call>`` in assistant content, results as role ``tool`` inside
    ``<tool_response>``."""
    system = traj.system
    if traj.tools:
        listing = "\n".join(dumps(wrap_tool(t)) for t in traj.tools)
        system = (system + "\n\n" if system else "") + (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            f"<tools>\n{listing}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
            "<args-json-object>}\n</tool_call>"
        )
    messages = [{"role": "system", "content": system}] if system else []
    for _, turn, _ in traj.flat_turns():
        if isinstance(turn, UserTurn):
            messages.append({"role": "user", "content": turn.content})
        elif isinstance(turn, AssistantTurn):
            thinking = turn.thinking_text()
            text = (f"<think>\n{thinking}\n</think>\n\n" if thinking is not None else "") + turn.content
            calls = [
                f"<tool_call>\n{dumps({'name': c.name, 'arguments': c.arguments})}\n</tool_call>"
                for c in turn.tool_calls
            ]
            messages.append({"role": "assistant", "content": "\n".join(([text] if text else []) + calls)})
        else:
            messages += [
                {
                    "role": "tool",
                    "content": "<tool_response>\n"
                    + dumps({"name": r.name, "content": r.content})
                    + "\n</tool_response>",
                }
                for r in turn.responses
            ]
    return messages


# ---------------------------------------------------------------- tokenizers and the Jinja template


def add_youtu_specials(tokenizer: Any) -> Any:
    """Register the Youtu format's markers as special tokens on an HF ``tokenizers.Tokenizer`` (in place)."""
    from tokenizers import AddedToken

    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in YOUTU_SPECIAL_TOKENS]
    )
    return tokenizer


def reference_tokenizer(name: str = "qwen3") -> Any:
    """A fetched reference tokenizer (default Qwen3, Apache-2.0) with the Youtu specials added: a stable
    tokenizer for golden files and tests that does not depend on the kit's trained one."""
    return add_youtu_specials(load_reference(name))


YOUTU_CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- set ns = namespace(system='', start=0) -%}"
    "{%- if messages and messages[0].role == 'system' -%}"
    "{%- set ns.system = messages[0].content -%}{%- set ns.start = 1 -%}"
    "{%- endif -%}"
    "{{- ns.system -}}"
    "{%- if tools -%}"
    "{%- if ns.system -%}{{- '\\n\\n' -}}{%- endif -%}"
    "{{- " + json.dumps(TOOLS_HEAD) + " -}}"
    "{%- for tool in tools -%}{{- '\\n```json\\n' + (tool | tojson) + '\\n```' -}}{%- endfor -%}"
    "{{- " + json.dumps(TOOLS_TAIL) + " -}}"
    "{%- endif -%}"
    "{%- for message in messages[ns.start:] -%}"
    "{%- if message.role == 'user' -%}"
    "{{- '<|User|>' + message.content -}}"
    "{%- elif message.role == 'tool' -%}"
    "{%- if loop.first or loop.previtem.role != 'tool' -%}{{- '<|User|>' -}}"
    "{%- else -%}{{- '\\n' -}}{%- endif -%}"
    "{{- '<tool_response>' + message.content + '</tool_response>' -}}"
    "{%- elif message.role == 'assistant' -%}"
    "{{- '<|Assistant|>' -}}"
    "{%- generation -%}"
    "{%- if message.reasoning_content is defined and message.reasoning_content is not none -%}"
    "{{- '<think>\\n' + message.reasoning_content + '\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- if message.content -%}{{- message.content -}}{%- endif -%}"
    "{%- for call in message.tool_calls | default([]) -%}"
    "{%- set fn = call.function if call.function is defined else call -%}"
    "{%- if fn.arguments is string -%}"
    "{{- '<tool_call>{\"name\": ' + (fn.name | tojson) + ', \"arguments\": ' + fn.arguments"
    " + '}</tool_call>' -}}"
    "{%- else -%}"
    "{{- '<tool_call>' + ({'name': fn.name, 'arguments': fn.arguments} | tojson) + '</tool_call>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{- '<|end_of_text|>' -}}"
    "{%- endgeneration -%}"
    "{%- else -%}"
    "{{- raise_exception('role ' + message.role"
    " + ' is not valid; allowed: system (first), user, assistant, tool') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|Assistant|>' -}}{%- endif -%}"
)


def hf_chat_tokenizer(tokenizer: Any) -> Any:
    """Wrap an HF ``tokenizers.Tokenizer`` as a ``transformers`` tokenizer with ``YOUTU_CHAT_TEMPLATE``."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, chat_template=YOUTU_CHAT_TEMPLATE, bos_token=BOS, eos_token=EOS
    )
