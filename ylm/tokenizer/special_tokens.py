"""The Youtu chat format's special tokens: one list every part of the kit spells them from.

The released Youtu-LLM tokenizer marks turns, thinking, tool calls and the tool block with these strings
(``paper_facts.md`` §2.1). Kit tokenizers register them as special added tokens after the BPE entries,
followed by ``<|reserved_special_token_i|>`` slots, as in Llama 3's layout (128,000 BPE + 256 slots).
This module has no dependencies, so the tokenizer and the agent code can both import it.
"""

from __future__ import annotations

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
USER, ASSISTANT = "<|User|>", "<|Assistant|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESP_OPEN, RESP_CLOSE = "<tool_response>", "</tool_response>"
TOOLS_OPEN, TOOLS_CLOSE = "<|begin_of_tool_description|>", "<|end_of_tool_description|>"

YOUTU_SPECIAL_TOKENS: tuple[str, ...] = (
    BOS, EOS, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE,
    CALL_OPEN, CALL_CLOSE, RESP_OPEN, RESP_CLOSE, TOOLS_OPEN, TOOLS_CLOSE,
)


def special_tokens(slots: int) -> list[str]:
    """The named Youtu specials followed by ``<|reserved_special_token_i|>`` up to ``slots`` entries."""
    if slots < len(YOUTU_SPECIAL_TOKENS):
        raise ValueError(f"special_slots must be >= {len(YOUTU_SPECIAL_TOKENS)} (the named Youtu specials), "
                         f"got {slots}")
    n_reserved = slots - len(YOUTU_SPECIAL_TOKENS)
    return list(YOUTU_SPECIAL_TOKENS) + [f"<|reserved_special_token_{i}|>" for i in range(n_reserved)]
