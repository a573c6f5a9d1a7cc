"""The Youtu chat format as a Jinja chat template for ``transformers``.

``YOUTU_CHAT_TEMPLATE`` renders OpenAI-style messages (``ylm.agent.convert.to_openai_messages``) to exactly
the text ``ylm.agent.render.render`` writes, and its ``{% generation %}`` block marks the same tokens as the
renderer's loss mask, so ``apply_chat_template(..., return_assistant_tokens_mask=True)`` gives the same
``assistant_masks``. An empty tool list renders like no tools (a bug found in a third-party port of the Youtu
template); ``add_generation_prompt=True`` ends the text with ``<|Assistant|>`` (``render_prompt``).
"""

from __future__ import annotations

import json
from typing import Any

from tokenizers import Tokenizer

from ylm.agent.render import TOOLS_HEAD, TOOLS_TAIL
from ylm.tokenizer.train import to_transformers

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


def hf_chat_tokenizer(tok: Tokenizer) -> Any:
    """``tok`` as a ``transformers`` tokenizer whose chat template is ``YOUTU_CHAT_TEMPLATE``."""
    return to_transformers(tok, chat_template=YOUTU_CHAT_TEMPLATE)
