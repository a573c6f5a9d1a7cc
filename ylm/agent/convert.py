"""Convert trajectories to and from other chat-message formats: OpenAI chat completions and Hermes/Qwen.

* OpenAI (``to_openai_messages`` / ``from_openai_messages``): ``{"messages": [...], "tools": [...] or None}``
  with thinking where the Youtu template reads it, inside ``content`` as ``<think>\n...\n</think>\n\n``
  before the answer (``ylm.agent.render.render_content``; the template ignores ``reasoning_content``), calls
  in ``tool_calls`` (arguments as a JSON string, ids ``call_<message>_<k>``) and one ``tool`` message per
  response. The export is the whole trajectory: cutting early thinking is the template's job. Branches are
  flattened on export and regrouped on import by the reflection rule (``ylm.agent.parse.regroup_branches``).
  This is the input of the released template and of ``ylm.agent.chat_template``'s, and the shape of most
  agent logs. A conversation imports only when ylm renders it exactly as the template does; otherwise it is
  a ``ValueError`` saying what to change (``from_openai_messages``).
* Hermes/Qwen (``to_hermes_messages``, export only): tools listed in the system prompt inside ``<tools>``,
  calls inline in the assistant content, results as ``tool`` messages inside ``<tool_response>``.
"""

from __future__ import annotations

from typing import Any

from ylm.agent.parse import assistant_turn, regroup_branches, split_thinking
from ylm.agent.render import dumps, render_content, unwrap_tool, wrap_tool
from ylm.agent.trajectory import (
    AssistantTurn,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    TrajectoryError,
    UserTurn,
    parse_arguments,
)


def _openai_assistant(turn: AssistantTurn, index: int) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": render_content(turn.thinking_text(), turn.content)}
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
    """OpenAI chat-completions style: ``{"messages": [...], "tools": [...]}``, branches flattened; ``tools``
    is None for a trajectory without tools (the template writes a tool block for any list, an empty one
    too)."""
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
    return {"messages": messages, "tools": [wrap_tool(t) for t in traj.tools] or None}


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


def _thinking_and_answer(msg: dict[str, Any], k: int) -> tuple[str | None, str]:
    """An assistant message's thinking and answer, read from its ``content`` as the template reads them."""
    if msg.get("reasoning_content") is not None:
        raise ValueError(
            f"message {k}: reasoning_content is ignored by the Youtu template; write the thinking into "
            "content as <think>\\n...\\n</think>\\n\\n before the answer"
        )
    content = msg.get("content") or ""
    try:
        thinking, answer = split_thinking(content)
    except ValueError as err:
        raise ValueError(f"message {k}: {err}") from None
    if render_content(thinking, answer) != content:
        raise ValueError(
            f"message {k}: the think block is not written as <think>\\n...\\n</think>\\n\\n before the "
            f"answer, the layout ylm renders: {content[:80]!r}"
        )
    return thinking, answer


def from_openai_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> Trajectory:
    """Build a trajectory from OpenAI-style messages (e.g. an agent log).

    Leading system messages are joined with a blank line, as the template joins them. Consecutive tool
    messages form one tool turn. A tool message's tool name is its ``name`` or, as in the OpenAI API, the name
    of the call its ``tool_call_id`` answers; when every response has an id they are put in call order (the
    template would write them in message order). An id that answers no call of the previous assistant
    message is a ``ValueError``; a tool call without a ``function`` object (or its ``name``) is a
    ``TrajectoryError``. So is, as a ``ValueError`` naming the message, what a trajectory cannot hold as the
    template renders it: ``reasoning_content`` (the template ignores it: move it into ``content``), a think
    block not in ``render_content``'s layout, a system message after the first other message (the template
    moves it to the top), and ``tools=[]`` (the template writes an empty tool block: pass None)."""
    if tools is not None and not tools:
        raise ValueError("tools=[] renders an empty tool block in the Youtu template; pass tools=None")
    systems: list[str] = []
    turns: list = []
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
        if role == "system":
            if k > len(systems):
                raise ValueError(
                    f"message {k}: a system message after the conversation started; the Youtu template "
                    "moves every system message to the top, so put it there"
                )
            systems.append(msg.get("content") or "")
        elif role == "user":
            turns.append(UserTurn(msg.get("content") or ""))
        elif role == "assistant":
            raw = msg.get("tool_calls") or []
            if not isinstance(raw, list):
                raise TrajectoryError(len(turns), "tool_calls", f"message {k}: must be a list of tool calls")
            calls = [_openai_call(c, j, k, len(turns)) for j, c in enumerate(raw)]
            call_ids = [c.get("id") for c in raw]
            turns.append(assistant_turn(*_thinking_and_answer(msg, k), calls))
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
                f"message {k}: role {role!r} is not valid; allowed: system (leading), user, assistant, tool"
            )
    flush()
    return Trajectory(
        turns=regroup_branches(turns),
        system="\n\n".join(systems),
        tools=[unwrap_tool(t) for t in (tools or [])],
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
            text = render_content(turn.thinking_text(), turn.content)
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
