"""The Jinja chat template: transformers renders ylm's text, ids, mask and generation prompts.

``template_mismatches`` compares, in both thinking modes, the conversation (text, ids, assistant mask) and the
prompt for its last turn under each of ``GENERATION_SETTINGS``: on the golden trajectories, on hypothesis
trajectories here, and on the committed synthetic set in test_synthesis.py.
"""

from __future__ import annotations

import re

import pytest
from agent_fixtures import FIXED, chat_only, needs_qwen3, parallel_tools, trajectories
from hypothesis import HealthCheck, given, settings

from ylm.agent.chat_template import YOUTU_CHAT_TEMPLATE, hf_chat_tokenizer, template_mismatches
from ylm.agent.convert import from_openai_messages, to_openai_messages
from ylm.agent.parse import parse_completion, parse_rendered
from ylm.agent.render import render, render_prompt, tool_block
from ylm.agent.validate import validate
from ylm.tokenizer.special_tokens import BOS
from ylm.tokenizer.train import to_transformers


@pytest.fixture(scope="module")
def hf(tok):
    return hf_chat_tokenizer(tok)


@needs_qwen3
@pytest.mark.parametrize("name", sorted(FIXED))
def test_template_equals_renderer_on_the_goldens(name, hf):
    assert template_mismatches(FIXED[name](), hf) == []


@needs_qwen3
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(trajectories())
def test_property_template_equals_renderer(hf, traj):
    validate(traj)
    assert template_mismatches(traj, hf) == []


@needs_qwen3
@pytest.mark.parametrize("name", sorted(FIXED))
def test_the_completion_after_the_prompt_is_the_last_turn(name, hf):
    traj = FIXED[name]()
    exported = to_openai_messages(traj)
    prompt = hf.apply_chat_template(
        exported["messages"][:-1], tools=exported["tools"], tokenize=False, add_generation_prompt=True
    )
    assert prompt == render_prompt(traj)
    assert parse_completion(render(traj).text[len(prompt) :]) == traj.turns[-1].tool_calls


@needs_qwen3
def test_an_empty_tool_list_gets_an_empty_tool_block(hf):
    """The template writes the block for any tool list; a trajectory cannot hold "tools given, none", so the
    import refuses it and parsing the text does too."""
    messages = to_openai_messages(chat_only())["messages"]
    text = hf.apply_chat_template(messages, tools=[], tokenize=False)
    system = BOS + chat_only().system
    assert text == system + "\n\n" + tool_block([]) + render(chat_only()).text[len(system) :]
    with pytest.raises(ValueError, match="tools=None"):
        from_openai_messages(messages, [])
    with pytest.raises(ValueError, match="lists no tool"):
        parse_rendered(text)


@needs_qwen3
def test_several_system_messages_are_joined_with_a_blank_line(hf):
    exported = to_openai_messages(parallel_tools())
    messages = [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use °C."}]
    messages += exported["messages"]
    imported = from_openai_messages(messages, exported["tools"])
    assert imported.system == "Be brief.\n\nUse °C."
    assert hf.apply_chat_template(messages, tools=exported["tools"], tokenize=False) == render(imported).text


@needs_qwen3
def test_the_template_reads_thinking_from_content_only(hf):
    messages = to_openai_messages(parallel_tools())["messages"]
    with_reasoning = [dict(m, reasoning_content="hidden") if m["role"] == "assistant" else m for m in messages]
    tools = to_openai_messages(parallel_tools())["tools"]
    rendered = hf.apply_chat_template(with_reasoning, tools=tools, tokenize=False)
    assert rendered == render(parallel_tools()).text and "hidden" not in rendered


@needs_qwen3
def test_without_generation_markers_the_text_is_the_same_and_the_mask_all_zeros(tok):
    """The released template has no {% generation %} block: same text, but transformers can give no mask."""
    bare = to_transformers(tok, chat_template=re.sub(r"\{%-? (end)?generation -?%\}", "", YOUTU_CHAT_TEMPLATE))
    exported = to_openai_messages(parallel_tools())
    out = bare.apply_chat_template(
        exported["messages"], tools=exported["tools"], return_dict=True, return_assistant_tokens_mask=True
    )
    assert list(out["input_ids"]) == render(parallel_tools(), tok).ids
    assert set(out["assistant_masks"]) == {0}


def test_kit_tokenizer_masks_and_template():
    """The kit's own tokenizer (ylm.tokenizer.kit.kit_tokenizer, cached) and the template agree too."""
    from ylm.tokenizer.kit import kit_tokenizer

    kit = kit_tokenizer()
    hf = hf_chat_tokenizer(kit)
    for make in FIXED.values():
        traj = make()
        r = render(traj, kit)
        assert render(traj, hf).ids == r.ids  # a transformers tokenizer works as well
        assert template_mismatches(traj, hf) == []
        supervised = kit.decode([i for i, m in zip(r.ids, r.mask, strict=True) if m], skip_special_tokens=False)
        assert supervised == "".join(r.text[s:e] for s, e in r.spans)
