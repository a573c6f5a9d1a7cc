"""The agent loop: a policy writes assistant turns, the runtime runs their tool calls and feeds results back.

    context = render(system + tools + request 1) + <|Assistant|>
    repeat:  turn = policy(context)               ids up to and including <|end_of_text|>
             calls in the turn  -> run each tool; context += <|User|><tool_response>...<|Assistant|>
             no call            -> the request's answer; the next request is appended as a user turn, or stop
             malformed call     -> stop ("malformed_call"), the parser's message recorded

**The context only grows.** The model's own ids stay as it generated them (a KV cache keeps them, nothing is
re-rendered), and every piece the environment adds (a user request, a tool turn, the generation prompt) is
cut from what ``ylm.agent.render`` writes for that turn. So the final context is, token for token,
``render(episode.trajectory(), tokenizer, thinking="all")`` whenever the model spelled its turns as
``render`` does (think block first, calls as ``render_call`` writes them). ``thinking="all"`` because the
template's default would cut the thinking of answers given before the first tool exchange, which a growing
context never does; when the first assistant turn makes a tool call (every toy-benchmark task) the two
renderings are the same.

An observation is injected as the tool wrote it: the format has no escape, so one that holds a special
token's spelling reaches the model as that token (``validate`` rejects such a trajectory).

**Errors, decided like a real runtime.** A call to an unknown tool, with arguments its schema rejects
(``ylm.agent.schema.check_tool_call``), or whose tool raises, is answered with the observation
``error: <message>`` and the loop goes on: the model sees its mistake and can correct it, which is what
recovery measures. A turn that does not parse (``ylm.agent.parse.ToolCallParseError``) has no call the
template could answer and is no answer either, so the episode ends there with the parser's message.

``Episode.status`` is one of ``STATUSES``:

    answered        every request got a final answer (a turn without calls)
    malformed_call  a turn did not parse
    max_steps       a request used ``max_steps`` assistant turns without answering
    context_limit   the next turn or tool turn would not fit in the policy's ``max_context``
                    (the model's ``max_position_embeddings``)
    truncated       a turn reached ``Sampling.max_new_tokens`` without ending

Policies: ``ModelPolicy`` decodes with a ``CausalLM`` and its preallocated KV cache (prefill, then one token
per step; the cache is kept across the turns of an episode, since its context only grows);
``ScriptedPolicy`` returns scripted texts, a fake model for tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ylm.agent.parse import ToolCallParseError, parse_assistant_body, regroup_branches
from ylm.agent.render import encode, generation_prompt, render_segments
from ylm.agent.schema import ToolCallError, check_tool_call, tool_index
from ylm.agent.tools import ERROR_PREFIX
from ylm.agent.trajectory import (
    AssistantTurn,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    Turn,
    UserTurn,
    need_arg,
)
from ylm.checks import check_int, check_number
from ylm.model.causal_lm import CausalLM
from ylm.tokenizer.special_tokens import EOS
from ylm.tokenizer.train import special_id

STATUSES: tuple[str, ...] = ("answered", "malformed_call", "max_steps", "context_limit", "truncated")

Tool = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Sampling:
    """Decoding controls. ``temperature=0`` is greedy (deterministic, ``top_k``/``top_p``/``seed`` unused);
    otherwise logits / temperature, then the ``top_k`` most likely tokens (0: all), then the smallest set
    whose probability reaches ``top_p``, sampled with a generator seeded by ``seed``. ``max_new_tokens``
    bounds one assistant turn. (Youtu's own recommendation, paper_facts §2.1: 1.0 / 20 / 0.95.)"""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        check_number("Sampling.temperature", self.temperature, 0)
        check_int("Sampling.top_k", self.top_k, minimum=0, extra=" (0 keeps every token)")
        check_number("Sampling.top_p", self.top_p, 0, strict=True)
        if self.top_p > 1:
            raise ValueError(f"Sampling.top_p={self.top_p!r}: must be a number in (0, 1]")
        check_int("Sampling.seed", self.seed, minimum=0)
        check_int("Sampling.max_new_tokens", self.max_new_tokens)


class Policy(Protocol):
    """Writes one assistant turn: given the context's token ids (ending with ``<|Assistant|>``), the ids of
    the turn, ending with ``<|end_of_text|>`` unless it ran out of room. ``max_context`` is the longest
    context it can take (None: no bound)."""

    max_context: int | None

    def next_turn(self, context_ids: list[int]) -> list[int]: ...


class ScriptedPolicy:
    """A fake model: returns ``replies`` in order, each the text written after ``<|Assistant|>``
    (``<|end_of_text|>`` appended when missing), cut to ``max_new_tokens`` when given. ``contexts`` records
    the ids it was shown."""

    def __init__(self, tokenizer: Any, replies: list[str], max_new_tokens: int | None = None,
                 max_context: int | None = None) -> None:
        need_arg(replies, list, "replies")
        for k, reply in enumerate(replies):
            need_arg(reply, str, f"replies[{k}]")
        if max_new_tokens is not None:
            check_int("max_new_tokens", max_new_tokens, extra=" or None")
        if max_context is not None:
            check_int("max_context", max_context, extra=" or None")
        self.tokenizer, self.replies = tokenizer, list(replies)
        self.max_new_tokens, self.max_context = max_new_tokens, max_context
        self.contexts: list[list[int]] = []

    def next_turn(self, context_ids: list[int]) -> list[int]:
        if len(self.contexts) >= len(self.replies):
            raise ValueError(f"ScriptedPolicy was asked for turn {len(self.contexts) + 1} but has "
                             f"{len(self.replies)} replies")
        reply = self.replies[len(self.contexts)]
        self.contexts.append(list(context_ids))
        ids = list(encode(self.tokenizer, reply if reply.endswith(EOS) else reply + EOS).ids)
        room = [n for n in (self.max_new_tokens, _room(self.max_context, context_ids)) if n is not None]
        return ids[: min(room)] if room else ids


def _room(max_context: int | None, context_ids: list[int]) -> int | None:
    return None if max_context is None else max(0, max_context - len(context_ids))


class ModelPolicy:
    """Decodes with ``model`` on its device: prefill the new part of the context into the model's preallocated
    KV cache, then one token per step, ``sampling`` applied, until ``<|end_of_text|>``, ``max_new_tokens`` or
    ``max_context`` (default and at most the model's ``max_position_embeddings``; the cache is allocated for
    it, so a 131k-position model wants a smaller one). An MLA model is switched to the absorbed path (the
    latent cache, as deployed) and to eval mode. The cache is reused while each context extends the previous
    one (the turns of one episode); any other context starts a fresh cache. The sampling generator is seeded
    once: the same contexts in the same order give the same tokens."""

    def __init__(self, model: CausalLM, tokenizer: Any, sampling: Sampling = Sampling(),
                 max_context: int | None = None) -> None:
        need_arg(model, CausalLM, "model")
        need_arg(sampling, Sampling, "sampling")
        limit = model.config.max_position_embeddings
        if max_context is not None:
            check_int("max_context", max_context, extra=f" <= max_position_embeddings={limit}, or None")
            if max_context > limit:
                raise ValueError(f"max_context={max_context}: must be <= max_position_embeddings={limit}")
        if model.config.attn_kind == "mla":
            model.set_attn_impl("absorbed")
        self.model, self.sampling = model.eval(), sampling
        self.eos_id = special_id(tokenizer, EOS)
        self.max_context: int = limit if max_context is None else max_context
        self.device = model.model.embed_tokens.weight.device
        self.generator = torch.Generator(device=self.device).manual_seed(sampling.seed)
        self._cache = None
        self._cached_ids: list[int] = []  # the ids whose keys and values the cache holds

    def _pick(self, logits: torch.Tensor) -> int:
        s = self.sampling
        if s.temperature == 0:
            return int(logits.argmax())
        logits = logits.float() / s.temperature
        if 0 < s.top_k < logits.numel():
            logits = logits.masked_fill(logits < torch.topk(logits, s.top_k).values[-1], -math.inf)
        if s.top_p < 1:
            sorted_logits, order = torch.sort(logits, descending=True)
            probs = torch.softmax(sorted_logits, -1)
            # drop a token once the tokens before it already reach top_p (the most likely one always stays)
            logits = logits.scatter(0, order[probs.cumsum(-1) - probs >= s.top_p], -math.inf)
        return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator))

    @torch.no_grad()
    def next_turn(self, context_ids: list[int]) -> list[int]:
        if not context_ids:
            raise ValueError("context_ids is empty; a turn is generated after a prompt")
        budget = min(self.sampling.max_new_tokens, self.max_context - len(context_ids))
        if budget <= 0:
            return []
        known = len(self._cached_ids)
        if self._cache is None or known >= len(context_ids) or context_ids[:known] != self._cached_ids:
            self._cache, known = self.model.init_cache(1, self.max_context), 0
        step = torch.tensor([context_ids[known:]], device=self.device)
        out: list[int] = []
        while True:
            token = self._pick(self.model(step, cache=self._cache)[0, -1])
            out.append(token)
            if token == self.eos_id or len(out) == budget:
                break
            step = torch.tensor([[token]], device=self.device)
        self._cached_ids = list(context_ids) + out[:-1]  # the last token was sampled, never fed
        return out


# ---------------------------------------------------------------- episodes


@dataclass
class Prompt:
    """What an episode starts from: a system prompt, the tools (JSON schemas, as in ``Trajectory.tools``) and
    the user requests, asked one after the other (the next once the previous got a final answer, as in BFCL's
    multi-turn tasks)."""

    requests: list[str]
    system: str = ""
    tools: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        need_arg(self.requests, list, "requests")
        if not self.requests:
            raise ValueError("requests must hold at least one user request")
        for k, request in enumerate(self.requests):
            need_arg(request, str, f"requests[{k}]")
        need_arg(self.system, str, "system")
        tool_index(self.tools)  # a ToolSchemaError (a ValueError) naming the faulty tool

    @classmethod
    def from_trajectory(cls, traj: Trajectory) -> Prompt:
        """The prompt of a reference trajectory: its system prompt, tools and user turns."""
        return cls([t.content for t in traj.turns if isinstance(t, UserTurn)], traj.system, traj.tools)


@dataclass
class Step:
    """One assistant turn: the generated text (``<|end_of_text|>`` included when produced), its parse (None
    when it did not parse, with ``parse_error``), and for each call its observation and, when the runtime
    could not run it, why (``call_errors[k]``; None when the tool ran)."""

    request: int
    text: str
    new_tokens: int
    turn: AssistantTurn | None
    parse_error: str | None = None
    outputs: list[str] = field(default_factory=list)
    call_errors: list[str | None] = field(default_factory=list)

    @property
    def calls(self) -> list[ToolCall]:
        return self.turn.tool_calls if self.turn is not None else []

    def tool_turn(self) -> ToolTurn | None:
        """The tool turn answering this step's calls; None for a step without observations."""
        if not self.outputs:
            return None
        return ToolTurn([ToolResponse(c.name, o) for c, o in zip(self.calls, self.outputs, strict=True)])


@dataclass
class Episode:
    """Everything an episode did: its steps, the final answer of each request answered (the answer text,
    thinking removed), the status (``STATUSES``) and the context's token ids."""

    prompt: Prompt
    steps: list[Step] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    status: str = "answered"  # what run_episode leaves unless it stops early
    context_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0

    @property
    def final_answer(self) -> str | None:
        """The last request's answer; None unless every request was answered."""
        return self.answers[-1] if self.status == "answered" else None

    @property
    def generated_tokens(self) -> int:
        return sum(step.new_tokens for step in self.steps)

    @property
    def context_tokens(self) -> int:
        return len(self.context_ids)

    def trajectory(self) -> Trajectory:
        """The conversation as a trajectory: the requests asked, each parsed turn and its tool turn; a failed
        call followed by a reflection becomes a ``Branch`` (``regroup_branches``). A turn that did not parse
        is left out, so an ``answered`` episode gives a whole trajectory, others a prefix ``validate`` may
        reject."""
        turns: list[Turn] = []
        asked = 0
        for step in self.steps:
            if step.turn is None:
                break
            if step.request == asked:
                turns.append(UserTurn(self.prompt.requests[asked]))
                asked += 1
            turns.append(step.turn)
            if (observation := step.tool_turn()) is not None:
                turns.append(observation)
        return Trajectory(regroup_branches(turns), self.prompt.system, self.prompt.tools)


def environment_text(turn: UserTurn | ToolTurn) -> str:
    """What ``render`` writes for a user or tool turn that follows an assistant turn, then the generation
    prompt: the text the runtime appends. Cut from ``render_segments``, so it is the template's by
    construction."""
    text, segments = render_segments(Trajectory(turns=[turn]))
    start, end = next((a, b) for a, b, kind in segments if kind != "system")
    return text[start:end] + generation_prompt()


def _run_call(call: ToolCall, schemas: Mapping[str, dict[str, Any]],
              tools: Mapping[str, Tool]) -> tuple[str, str | None]:
    """(observation, why the call could not run or None)."""
    try:
        check_tool_call(call, schemas)
        output = tools[call.name](call.arguments)
    except ToolCallError as err:
        return ERROR_PREFIX + str(err), str(err)
    except Exception as err:  # a tool's failure is the model's observation, as in a real runtime
        message = f"{call.name} failed: {type(err).__name__}: {err}"
        return ERROR_PREFIX + message, message
    if not isinstance(output, str):
        raise ValueError(f"tool {call.name!r} returned a {type(output).__name__}; a tool returns a string")
    return output, None


def _extend(episode: Episode, tokenizer: Any, text: str, max_context: int | None) -> bool:
    """Append ``text`` to the context unless it would leave no room for a turn; False (status set) if not."""
    ids = list(encode(tokenizer, text).ids)
    if max_context is not None and len(episode.context_ids) + len(ids) >= max_context:
        episode.status = "context_limit"
        return False
    episode.context_ids += ids
    return True


def run_episode(policy: Policy, tokenizer: Any, prompt: Prompt, tools: Mapping[str, Tool],
                max_steps: int = 4) -> Episode:
    """Run ``prompt``'s requests with ``policy``. ``tools`` maps every tool name in ``prompt.tools`` to a
    function of the call's arguments that returns the observation text; at most ``max_steps`` assistant turns
    per request."""
    need_arg(prompt, Prompt, "prompt")
    check_int("max_steps", max_steps)
    schemas = tool_index(prompt.tools)
    missing = [name for name in schemas if name not in tools]
    if missing:
        raise ValueError(f"tools has no function for {', '.join(missing)}; "
                         f"prompt.tools lists {', '.join(schemas)}")
    first = Trajectory(turns=[UserTurn(prompt.requests[0])], system=prompt.system, tools=prompt.tools)
    episode = Episode(prompt)
    if not _extend(episode, tokenizer, render_segments(first)[0] + generation_prompt(), policy.max_context):
        return episode
    episode.prompt_tokens = len(episode.context_ids)
    for request, content in enumerate(prompt.requests):
        asked = environment_text(UserTurn(content))
        if request and not _extend(episode, tokenizer, asked, policy.max_context):
            break
        if not _answer(episode, policy, tokenizer, request, schemas, tools, max_steps):
            break
    return episode


def _answer(episode: Episode, policy: Policy, tokenizer: Any, request: int,
            schemas: Mapping[str, dict[str, Any]], tools: Mapping[str, Tool], max_steps: int) -> bool:
    """Turns for one request until its final answer (True) or a stop (False, ``episode.status`` set)."""
    for _ in range(max_steps):
        ids = policy.next_turn(list(episode.context_ids))
        episode.context_ids += ids
        text = tokenizer.decode(ids, skip_special_tokens=False)
        try:
            step = Step(request, text, len(ids), parse_assistant_body(text))
        except ToolCallParseError as err:
            step = Step(request, text, len(ids), None, parse_error=str(err))
        episode.steps.append(step)
        if not text.endswith(EOS):
            full = policy.max_context is not None and len(episode.context_ids) >= policy.max_context
            episode.status = "context_limit" if full else "truncated"
            return False
        if step.turn is None:
            episode.status = "malformed_call"
            return False
        if not step.calls:
            episode.answers.append(step.turn.content)
            return True
        for call in step.calls:
            output, error = _run_call(call, schemas, tools)
            step.outputs.append(output)
            step.call_errors.append(error)
        if not _extend(episode, tokenizer, environment_text(step.tool_turn()), policy.max_context):
            return False
    episode.status = "max_steps"
    return False
