"""The Jinja chat template: transformers renders the same text, ids and mask as ylm."""

from __future__ import annotations

import pytest
from agent_fixtures import FIXED, needs_qwen3

from ylm.agent.chat_template import hf_chat_tokenizer
from ylm.agent.convert import to_openai_messages
from ylm.agent.parse import parse_completion
from ylm.agent.render import render, render_prompt, render_text
from ylm.agent.trajectory import Trajectory
from ylm.tokenizer.special_tokens import ASSISTANT


@needs_qwen3
@pytest.mark.parametrize("name", sorted(FIXED))
def test_transformers_template_equals_renderer(name, tok):
    traj = FIXED[name]()
    hf = hf_chat_tokenizer(tok)
    exported = to_openai_messages(traj)
    tools = exported["tools"] or None
    r = render(traj, tok)
    assert hf.apply_chat_template(exported["messages"], tools=tools, tokenize=False) == r.text
    out = hf.apply_chat_template(
        exported["messages"], tools=tools, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    assert list(out["input_ids"]) == r.ids
    assert list(out["assistant_masks"]) == r.mask
    prompt = hf.apply_chat_template(
        exported["messages"][:-1], tools=tools, tokenize=False, add_generation_prompt=True
    )
    assert prompt == render_prompt(traj) and prompt.endswith(ASSISTANT)
    completion = r.text[len(prompt) :]
    assert parse_completion(completion) == traj.turns[-1].tool_calls
    # an empty tool list through transformers is the same as none (the bug in some ports of the template)
    assert (
        hf.apply_chat_template(exported["messages"], tools=[], tokenize=False)
        == render_text(Trajectory(turns=traj.turns, system=traj.system))[0]
    )


def test_kit_tokenizer_masks_and_template():
    """The kit's own tokenizer (ylm.tokenizer.kit.kit_tokenizer, cached) and the template: same ids, mask."""
    from ylm.tokenizer.kit import kit_tokenizer

    kit = kit_tokenizer()
    hf = hf_chat_tokenizer(kit)
    for make in FIXED.values():
        traj = make()
        r = render(traj, kit)
        assert render(traj, hf).ids == r.ids  # a transformers tokenizer works as well
        exported = to_openai_messages(traj)
        out = hf.apply_chat_template(
            exported["messages"],
            tools=exported["tools"] or None,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        assert list(out["input_ids"]) == r.ids and list(out["assistant_masks"]) == r.mask
        supervised = kit.decode(
            [i for i, m in zip(r.ids, r.mask, strict=True) if m], skip_special_tokens=False
        )
        assert supervised == "".join(r.text[s:e] for s, e in r.spans)
