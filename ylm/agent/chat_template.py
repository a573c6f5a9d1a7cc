"""The Youtu chat format as a Jinja chat template for ``transformers``, and the check that it agrees with ylm.

``YOUTU_CHAT_TEMPLATE`` is written from the released Youtu-LLM-2B template's behaviour as paper_facts §2.1
describes it (no template text copied): system messages joined by a blank line; a tool block whenever
``tools`` is given, an empty list too; thinking read from the assistant ``content`` and cut from the assistant
messages before the first tool exchange, the last message excepted; the empty think block for a last message
without one; tool names written raw, calls and the responses of one run separated by newlines; and the
generation prompt ``<|Assistant|>`` after a user or tool message, followed by the empty think block
(``enable_thinking=False``) or ``<think>\\n`` (``forced_thinking=True``). On the OpenAI export of a trajectory
(``ylm.agent.convert.to_openai_messages``) it gives ``ylm.agent.render``'s text.

Additions that change no text of a valid conversation: a ``{% generation %}`` block around each assistant
body, so ``apply_chat_template(..., return_assistant_tokens_mask=True)`` gives the renderer's mask
(supervised branches; the released template has no such block and its mask is all zeros); ``keep_thinking=True``,
which skips the cut as ``render(..., thinking="all")`` does; and an error for an unknown role.
``template_mismatches`` compares the two renderings of one trajectory.
"""

from __future__ import annotations

import json
from typing import Any

from tokenizers import Tokenizer

from ylm.agent.convert import to_openai_messages
from ylm.agent.render import (
    EMPTY_THINK,
    THINKING_MODES,
    TOOLS_HEAD,
    TOOLS_TAIL,
    encode,
    render,
    render_prompt,
)
from ylm.agent.trajectory import Trajectory
from ylm.tokenizer import special_tokens
from ylm.tokenizer.train import to_transformers

# The format's fixed strings, defined as Jinja variables at the top of the template from the kit's constants.
_MARKERS = ("USER", "ASSISTANT", "EOS", "THINK_OPEN", "THINK_CLOSE", "CALL_OPEN", "CALL_CLOSE", "RESP_OPEN", "RESP_CLOSE")
_STRINGS = {name: getattr(special_tokens, name) for name in _MARKERS} | {
    "EMPTY_THINK": EMPTY_THINK,
    "TOOLS_HEAD": TOOLS_HEAD,
    "TOOLS_TAIL": TOOLS_TAIL,
}

YOUTU_CHAT_TEMPLATE = "".join(
    "{%- set " + name + " = " + json.dumps(value) + " -%}" for name, value in _STRINGS.items()
) + (
    # pass 1: the system text, and the first tool response (a tool message, or a user message that is one
    # wrapped response)
    "{%- set ns = namespace(system=[], first_tool=messages | length, in_run=false, last_role='') -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'system' -%}{%- set ns.system = ns.system + [m.content] -%}"
    "{%- elif ns.first_tool == messages | length and (m.role == 'tool' or (m.role == 'user'"
    " and m.content.startswith(RESP_OPEN) and m.content.endswith(RESP_CLOSE))) -%}"
    "{%- set ns.first_tool = loop.index0 -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{- bos_token + ns.system | join('\\n\\n') -}}"
    "{%- if tools is defined and tools is not none -%}"
    "{%- if ns.system | join('\\n\\n') -%}{{- '\\n\\n' -}}{%- endif -%}"
    "{{- TOOLS_HEAD -}}"
    "{%- for tool in tools -%}{{- '\\n```json\\n' + (tool | tojson) + '\\n```' -}}{%- endfor -%}"
    "{{- TOOLS_TAIL -}}"
    "{%- endif -%}"
    # pass 2: the turns
    "{%- for m in messages -%}"
    "{%- if m.role == 'user' -%}"
    "{{- USER + m.content -}}"
    "{%- elif m.role == 'tool' -%}"
    "{{- ('\\n' if ns.in_run else USER) + RESP_OPEN + m.content + RESP_CLOSE -}}"
    "{%- set ns.in_run = true -%}"
    "{%- elif m.role == 'assistant' -%}"
    "{%- set ns.in_run = false -%}"
    "{%- set content = m.content or '' -%}"
    # the cut: not the last message, and before the turn whose calls the first tool response answers
    "{%- if THINK_CLOSE in content and not loop.last and loop.index0 < ns.first_tool - 1"
    " and not keep_thinking -%}"
    "{%- set content = (content.split(THINK_CLOSE) | last).lstrip('\\n') -%}"
    "{%- endif -%}"
    "{%- if loop.last and THINK_OPEN not in content and THINK_CLOSE not in content -%}"
    "{%- set content = EMPTY_THINK + content -%}"
    "{%- endif -%}"
    "{{- ASSISTANT -}}"
    "{%- generation -%}"
    "{{- content -}}"
    "{%- for call in m.tool_calls or [] -%}"
    "{%- set args = call.function.arguments -%}"
    "{%- if args is not string -%}{%- set args = args | tojson -%}{%- endif -%}"
    "{{- ('' if loop.first else '\\n') + CALL_OPEN + '{\"name\": \"' + call.function.name"
    " + '\", \"arguments\": ' + args + '}' + CALL_CLOSE -}}"
    "{%- endfor -%}"
    "{{- EOS -}}"
    "{%- endgeneration -%}"
    "{%- elif m.role != 'system' -%}"
    "{{- raise_exception('role ' + m.role + ' is not valid; allowed: system, user, assistant, tool') -}}"
    "{%- endif -%}"
    "{%- if m.role != 'system' -%}{%- set ns.last_role = m.role -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt and ns.last_role in ['user', 'tool'] -%}"
    "{{- ASSISTANT -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{- EMPTY_THINK -}}"
    "{%- elif forced_thinking is defined and forced_thinking is true -%}{{- THINK_OPEN + '\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)

# The generation-prompt switches compared; the last pair checks that enable_thinking=False wins.
GENERATION_SETTINGS: tuple[dict[str, bool], ...] = (
    {"enable_thinking": True},
    {"enable_thinking": False},
    {"forced_thinking": True},
    {"enable_thinking": False, "forced_thinking": True},
)


def hf_chat_tokenizer(tok: Tokenizer) -> Any:
    """``tok`` as a ``transformers`` tokenizer whose chat template is ``YOUTU_CHAT_TEMPLATE``."""
    return to_transformers(tok, chat_template=YOUTU_CHAT_TEMPLATE)


def template_mismatches(traj: Trajectory, hf: Any) -> list[str]:
    """Where ``hf`` (``hf_chat_tokenizer``) and ylm render ``traj`` differently, in every thinking mode: the
    conversation's text, ids and assistant mask, and for each ``GENERATION_SETTINGS`` the prompt for the last
    turn, text and ids; the default prompt's ids also start the conversation's (it ends with the special
    ``<|Assistant|>``), so training and inference tokenise it alike. Empty when they agree."""
    exported = to_openai_messages(traj)
    messages, tools = exported["messages"], exported["tools"]
    found = []
    for thinking in THINKING_MODES:
        extra = {"keep_thinking": True} if thinking == "all" else {}
        ours = render(traj, hf, thinking=thinking)
        if hf.apply_chat_template(messages, tools=tools, tokenize=False, **extra) != ours.text:
            found.append(f"{thinking}: text")
        out = hf.apply_chat_template(
            messages, tools=tools, return_dict=True, return_assistant_tokens_mask=True, **extra
        )
        if list(out["input_ids"]) != ours.ids:
            found.append(f"{thinking}: ids")
        if list(out["assistant_masks"]) != ours.mask:
            found.append(f"{thinking}: assistant mask")
        for setting in GENERATION_SETTINGS:
            options = dict(tools=tools, add_generation_prompt=True, **extra, **setting)
            want = render_prompt(traj, thinking, **setting)
            if hf.apply_chat_template(messages[:-1], tokenize=False, **options) != want:
                found.append(f"{thinking}: prompt {setting}")
            ids = list(hf.apply_chat_template(messages[:-1], return_dict=True, **options)["input_ids"])
            if ids != list(encode(hf, want).ids):
                found.append(f"{thinking}: prompt {setting} ids")
            if setting == GENERATION_SETTINGS[0] and ours.ids[: len(ids)] != ids:
                found.append(f"{thinking}: prompt ids are not a prefix of the conversation's")
    return found
