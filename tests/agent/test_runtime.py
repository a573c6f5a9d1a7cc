"""The agent loop: calls parsed and run, observations injected exactly as ``render`` writes them, every way an
episode stops, and ``ModelPolicy``'s cached decoding against ``CausalLM.generate``."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from agent_fixtures import CALC

from ylm.agent import runtime
from ylm.agent.render import as_rendered, encode, generation_prompt, render, render_assistant_body
from ylm.agent.runtime import (
    ModelPolicy,
    Prompt,
    Sampling,
    ScriptedPolicy,
    environment_text,
    run_episode,
)
from ylm.agent.synth.math_tasks import synthesize_math
from ylm.agent.tools import calculator_tool
from ylm.agent.trajectory import (
    AssistantTurn,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)
from ylm.agent.validate import validate
from ylm.model.causal_lm import CausalLM
from ylm.model.config import toy_mla
from ylm.timing import torch_threads
from ylm.tokenizer.kit import kit_tokenizer
from ylm.tokenizer.special_tokens import EOS, RESP_CLOSE, RESP_OPEN


@pytest.fixture(scope="module")
def kit():
    return kit_tokenizer()


def replies(traj: Trajectory, thinking: str = "template") -> list[str]:
    """The assistant turns of ``traj`` as its rendered text holds them: what a perfect model would write."""
    shown = as_rendered(traj, thinking).flat_turns()
    return [render_assistant_body(t) for _, t, _ in shown if isinstance(t, AssistantTurn)]


class Recorder:
    """A calculator that remembers the arguments it was called with."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def __call__(self, arguments: dict) -> str:
        self.seen.append(arguments)
        return calculator_tool(arguments["expression"])


def call_text(expression: str, name: str = "calculator") -> str:
    call = ToolCall(name, {"expression": expression})
    return render_assistant_body(AssistantTurn(thinking="Use the tool.", tool_calls=[call]))


def calc_then_answer(question: str, expression: str) -> list:
    return [
        UserTurn(question),
        AssistantTurn(phases=[Phase("plan", "Use the calculator.")],
                      tool_calls=[ToolCall("calculator", {"expression": expression})]),
        ToolTurn([ToolResponse("calculator", calculator_tool(expression))]),
        AssistantTurn(thinking="Done.", content=f"It is {calculator_tool(expression)}."),
    ]


# ---------------------------------------------------------------- the loop against render


def test_calls_are_run_with_the_parsed_arguments_and_the_context_is_what_render_writes(kit):
    trajs = synthesize_math(11, 6, branch_rate=1.0)  # slips included: an error observation mid-episode
    for traj in trajs:
        calculator = Recorder()
        episode = run_episode(ScriptedPolicy(kit, replies(traj)), kit, Prompt.from_trajectory(traj),
                              {"calculator": calculator})
        want = [c.arguments for _, t, _ in traj.flat_turns() if isinstance(t, AssistantTurn)
                for c in t.tool_calls]
        assert episode.status == "answered"
        assert calculator.seen == want
        assert episode.context_ids == render(traj, kit).ids
        assert episode.final_answer == traj.turns[-1].content
        assert render(validate(episode.trajectory()), kit).ids == episode.context_ids
        assert episode.context_tokens == episode.prompt_tokens + episode.generated_tokens + sum(
            len(encode(kit, environment_text(s.tool_turn())).ids) for s in episode.steps if s.outputs)


def test_a_tool_response_injected_without_the_template_wrapper_is_caught(kit, monkeypatch):
    """The deliberately broken runtime: observations appended bare, not as <|User|><tool_response>...; the
    comparison with render must fail for it and hold for the real one."""
    traj = synthesize_math(3, 1, branch_rate=0.0)[0]

    def episode():
        return run_episode(ScriptedPolicy(kit, replies(traj)), kit, Prompt.from_trajectory(traj),
                           {"calculator": Recorder()})

    assert episode().context_ids == render(traj, kit).ids
    wrapped = runtime.environment_text

    def bare(turn):
        if isinstance(turn, ToolTurn):
            return "".join(r.content for r in turn.responses) + generation_prompt()
        return wrapped(turn)

    monkeypatch.setattr(runtime, "environment_text", bare)
    broken = episode().context_ids
    text = kit.decode(broken, skip_special_tokens=False)
    assert RESP_OPEN not in text and RESP_CLOSE not in text
    assert broken != render(traj, kit).ids


def test_requests_are_asked_in_turn(kit):
    traj = Trajectory(calc_then_answer("What is 6*7?", "6*7") + calc_then_answer("And 6*8?", "6*8"),
                      system="Be brief.", tools=[CALC])
    policy = ScriptedPolicy(kit, replies(traj))
    episode = run_episode(policy, kit, Prompt.from_trajectory(traj), {"calculator": Recorder()})
    assert episode.status == "answered" and episode.answers == ["It is 42.", "It is 48."]
    assert [s.request for s in episode.steps] == [0, 0, 1, 1]
    asked = list(encode(kit, environment_text(UserTurn("And 6*8?"))).ids)
    assert policy.contexts[2][-len(asked):] == asked
    assert episode.context_ids == render(traj, kit).ids


def test_a_growing_context_keeps_early_thinking_which_the_template_would_cut(kit):
    traj = Trajectory([UserTurn("Hi."), AssistantTurn(thinking="A greeting.", content="Hello."),
                       *calc_then_answer("What is 6*7?", "6*7")], tools=[CALC])
    policy = ScriptedPolicy(kit, replies(traj, thinking="all"))
    episode = run_episode(policy, kit, Prompt.from_trajectory(traj), {"calculator": Recorder()})
    assert episode.context_ids == render(traj, kit, thinking="all").ids
    assert episode.context_ids != render(traj, kit).ids


# ---------------------------------------------------------------- stopping and errors


PROMPT = Prompt(["What is 2 to the power 10?"], "Use tools.", [CALC])


def test_a_malformed_call_is_recorded_and_ends_the_episode(kit):
    bad = '<tool_call>{"name": "calculator", "arguments": {"expression": }}</tool_call>'
    policy = ScriptedPolicy(kit, [bad, "never asked"])
    episode = run_episode(policy, kit, PROMPT, {"calculator": Recorder()})
    assert episode.status == "malformed_call"
    assert len(policy.contexts) == 1 and episode.steps[0].turn is None
    assert "not valid JSON" in episode.steps[0].parse_error
    assert episode.final_answer is None


def test_unknown_tools_bad_arguments_and_failing_tools_are_observations_and_the_loop_goes_on(kit):
    def broken(arguments: dict) -> str:
        raise RuntimeError("disk on fire")

    wrong_name = call_text("2**10", name="calc")
    wrong_args = render_assistant_body(AssistantTurn(tool_calls=[ToolCall("calculator", {"expr": "2**10"})]))
    policy = ScriptedPolicy(kit, [wrong_name, wrong_args, call_text("2**10"), call_text("2**10"), "1024."])
    tools = {"calculator": Recorder()}
    episode = run_episode(policy, kit, PROMPT, tools, max_steps=3)
    assert episode.status == "max_steps"
    first, second, third = episode.steps
    assert first.outputs == ["error: unknown tool 'calc'; known tools: calculator"]
    assert first.call_errors == ["unknown tool 'calc'; known tools: calculator"]
    assert second.outputs[0].startswith("error: ") and "'expression'" in second.outputs[0]
    assert third.outputs == ["1024"] and third.call_errors == [None]
    tools["calculator"] = broken
    episode = run_episode(ScriptedPolicy(kit, [call_text("1"), "Sorry."]), kit, PROMPT, tools)
    assert episode.status == "answered"
    assert episode.steps[0].outputs == ["error: calculator failed: RuntimeError: disk on fire"]


def test_the_step_limit_ends_the_loop(kit):
    policy = ScriptedPolicy(kit, [call_text("2**10")] * 5)
    episode = run_episode(policy, kit, PROMPT, {"calculator": Recorder()}, max_steps=2)
    assert episode.status == "max_steps" and len(episode.steps) == 2 and episode.answers == []


def test_a_turn_cut_by_max_new_tokens_is_truncated_and_one_cut_by_the_context_is_a_context_limit(kit):
    episode = run_episode(ScriptedPolicy(kit, [call_text("2**10")], max_new_tokens=5), kit, PROMPT,
                          {"calculator": Recorder()})
    assert episode.status == "truncated" and episode.steps[0].new_tokens == 5
    prompt_tokens = episode.prompt_tokens
    policy = ScriptedPolicy(kit, [call_text("2**10")], max_context=prompt_tokens + 5)
    episode = run_episode(policy, kit, PROMPT, {"calculator": Recorder()})
    assert episode.status == "context_limit" and episode.context_tokens == prompt_tokens + 5
    # a call that fits, but its tool turn does not
    turn = len(encode(kit, call_text("2**10")).ids)  # <|end_of_text|> included
    policy = ScriptedPolicy(kit, [call_text("2**10")], max_context=prompt_tokens + turn + 3)
    episode = run_episode(policy, kit, PROMPT, {"calculator": Recorder()})
    assert episode.status == "context_limit" and episode.steps[0].outputs == ["1024"]
    assert episode.context_tokens == prompt_tokens + turn


@pytest.mark.parametrize("call, field", [
    (lambda tools: run_episode(ScriptedPolicy(kit_tokenizer(), []), kit_tokenizer(), PROMPT, {}), "tools"),
    (lambda tools: run_episode(ScriptedPolicy(kit_tokenizer(), []), kit_tokenizer(), PROMPT, tools, 0),
     "max_steps"),
    (lambda tools: Prompt([]), "requests"),
    (lambda tools: Prompt(["hi"], tools=[{"name": ""}]), "tools[0].name"),
    (lambda tools: ScriptedPolicy(kit_tokenizer(), ["a", 3]), "replies[1]"),
])
def test_bad_episode_inputs_are_value_errors_naming_the_field(call, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        call({"calculator": Recorder()})


# ---------------------------------------------------------------- the model policy


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: with a second one on a busy two-core machine, a 0.1 s decode takes seconds."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def model(kit):
    torch.manual_seed(0)
    config = toy_mla(vocab_size=kit.get_vocab_size(), hidden_size=64, intermediate_size=128,
                     num_hidden_layers=2, q_lora_rank=48, kv_lora_rank=32, max_position_embeddings=512,
                     attn_impl="naive")
    return CausalLM(config)


def test_model_policy_with_its_cache_writes_what_generate_writes_without_one(kit, model):
    policy = ModelPolicy(model, kit, Sampling(max_new_tokens=12))
    assert model.config.attn_impl == "absorbed"
    context = list(encode(kit, "<|begin_of_text|>Be brief.<|User|>What is 6*7?<|Assistant|>").ids)
    for _ in range(2):  # the second turn extends the first context: the cache is reused
        turn = policy.next_turn(context)
        full = model.generate(torch.tensor([context]), 12, use_cache=False,
                              eos_token_id=kit.token_to_id(EOS))
        assert turn == full[0, len(context):].tolist()
        context = context + turn + list(encode(kit, environment_text(UserTurn("And 6*8?"))).ids)


def test_model_policy_sampling_is_seeded_and_an_episode_runs_to_a_status(kit, model):
    context = list(encode(kit, "<|begin_of_text|><|User|>Hi<|Assistant|>").ids)
    sampling = Sampling(temperature=1.0, top_k=20, top_p=0.9, seed=5, max_new_tokens=8)
    first = ModelPolicy(model, kit, sampling).next_turn(context)
    assert first == ModelPolicy(model, kit, sampling).next_turn(context)
    assert first != ModelPolicy(model, kit, dataclasses.replace(sampling, seed=6)).next_turn(context)
    episode = run_episode(ModelPolicy(model, kit, Sampling(max_new_tokens=16)), kit, PROMPT,
                          {"calculator": Recorder()})
    # a random model never ends its turn: greedy decoding runs to the token limit
    assert episode.status == "truncated" and episode.generated_tokens == 16
    short = CausalLM(model.config.replace(max_position_embeddings=episode.prompt_tokens + 4))
    episode = run_episode(ModelPolicy(short, kit, Sampling(max_new_tokens=50)), kit, PROMPT,
                          {"calculator": Recorder()})
    assert episode.status == "context_limit"
    assert episode.context_tokens <= episode.prompt_tokens + 4


def test_model_policy_context_is_bounded_by_the_model(kit, model):
    policy = ModelPolicy(model, kit, max_context=300)
    assert policy.max_context == 300 and ModelPolicy(model, kit).max_context == 512
    for bad in (513, 0):
        with pytest.raises(ValueError, match="max_context"):
            ModelPolicy(model, kit, max_context=bad)
    with pytest.raises(ValueError, match="context_ids"):
        policy.next_turn([])


@pytest.mark.parametrize("field, value", [
    ("temperature", -0.1), ("temperature", float("nan")), ("top_k", -1), ("top_k", 2.5), ("top_p", 0.0),
    ("top_p", 1.5), ("seed", -1), ("max_new_tokens", 0), ("max_new_tokens", True),
])
def test_bad_sampling_values_are_value_errors_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"Sampling.{field}"):
        Sampling(**{field: value})
