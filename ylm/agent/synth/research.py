"""Deep-research trajectories over the committed corpora, built forward and in reverse.

The search index holds the *train* splits of ``general`` (Brown corpus, Python docs) and the SymPy docs from
``stem`` (held-out documents never enter synthetic training data).

* **Forward** (question -> search -> read -> answer): a sentence of a document becomes a fill-in-the-blank
  question. The agent first searches with the opening words of the quote; if no result's snippet shows the
  quote (the search tool really returned something else), that attempt is a failed branch, the agent
  reflects and searches again with the quote's rarest words. It then reads the document and answers with
  the word it finds in the passage.
* **Reverse** (start from a document, walk back the path that finds it): the paper rebuilds search paths
  backwards from citation relations. Here the target is a Python-docs module page A; walking back its
  citations finds a page B whose text cites A with ``:mod:`A```. The question is the one a reader of B asks
  ("what is the module B cites for?"); the agent searches for the module, reads its page and reports its
  ``:synopsis:``. A search that surfaces only citing pages is kept as a failed branch before the refined one.

Every search/read output is the real tool output; question, thinking and answer text are templates.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from ylm.agent.tools import READ_SCHEMA, SEARCH_SCHEMA, SearchIndex, passages, words
from ylm.agent.trajectory import (
    AssistantTurn,
    Branch,
    Phase,
    ToolCall,
    ToolResponse,
    ToolTurn,
    Trajectory,
    UserTurn,
)
from ylm.checks import check_int
from ylm.data import load_documents

SYSTEM = (
    "You are a research agent. Use search and read to find evidence in the document collection before "
    "answering."
)
SYNTHETIC = {
    "question": "templated from a document",
    "thinking": "templated",
    "answer": "templated",
    "observations": "executed (ylm search/read over data_samples train splits)",
}
TOOLS = [SEARCH_SCHEMA, READ_SCHEMA]


def research_corpus() -> list[dict[str, Any]]:
    """The searchable documents: general/train plus the SymPy docs in stem/train."""
    general = load_documents("general", "train")
    sympy = [d for d in load_documents("stem", "train") if d["source"] == "sympy-docs"]
    return general + sympy


def _snippets(observation: str) -> list[dict[str, str]]:
    return json.loads(observation)


def _search_step(
    phases: list[Phase], action: str, query: str, observation: str
) -> tuple[AssistantTurn, ToolTurn]:
    """An assistant turn (``phases``, then an Action phase) that searches ``query``, and its observation."""
    return (
        AssistantTurn(
            phases=[*phases, Phase("action", action)], tool_calls=[ToolCall("search", {"query": query})]
        ),
        ToolTurn([ToolResponse("search", observation)]),
    )


def _failed_then_retry(
    attempt: tuple[AssistantTurn, ToolTurn], reflection: str, action: str, query: str, observation: str
) -> list:
    """A failed search ``attempt`` kept as a Branch, then a Reflection turn that searches ``query`` again."""
    return [Branch(*attempt), *_search_step([Phase("reflection", reflection)], action, query, observation)]


def _candidate_sentences(index: SearchIndex, doc_id: str) -> list[str]:
    out = []
    for para in passages(index.docs[doc_id]["text"]):
        if any(ch in para for ch in "`*=|:>") or "\n" in para.strip():
            continue  # prose only: no markup, no code, no tables
        for sent in re.split(r"(?<=[.!?])\s+", para):
            n = len(sent.split())
            if 12 <= n <= 35 and sent[0].isupper() and sent.endswith("."):
                out.append(sent)
    return out


def _blank(index: SearchIndex, sentence: str) -> tuple[str, str] | None:
    """(question sentence with one rare word blanked, the word); None when no good word exists."""
    toks = [w for w in re.findall(r"(?<!\w)[A-Za-z]{5,}(?!\w)", sentence) if w.lower() in index.idf]
    if not toks:
        return None
    answer = max(toks, key=lambda w: (index.idf[w.lower()], w))
    if sentence.count(answer) != 1:
        return None
    return sentence.replace(answer, "____"), answer


def forward_trajectory(index: SearchIndex, doc_id: str, sentence: str, tid: str) -> Trajectory | None:
    blanked = _blank(index, sentence)
    if blanked is None:
        return None
    quote, answer = blanked
    turns: list = [
        UserTurn(f'Which word is missing from this sentence, and which document is it from?\n"{quote}"')
    ]
    opening = [
        Phase("analysis", "A quoted sentence with one blank; I need the source document to fill it."),
        Phase("plan", "Search for the quote, open the matching document, read the sentence."),
    ]
    naive = " ".join(quote.split()[:6]).replace("____", "").strip()
    rare = " ".join(sorted({w for w in words(quote) if w in index.idf}, key=lambda w: (-index.idf[w], w))[:6])

    def found(obs: str) -> bool:
        return any(h["id"] == doc_id for h in _snippets(obs))

    first = index.search(naive)
    attempt = _search_step(opening, "Search with the opening words.", naive, first)
    if found(first):
        turns += attempt
    else:
        second = index.search(rare)
        if not found(second):
            return None
        turns += _failed_then_retry(
            attempt,
            "None of the results shows the quoted sentence: the opening words are too common. "
            "Search with the rarest words of the quote instead.",
            "Search with the distinctive words.",
            rare,
            second,
        )
    pick = Phase("analysis", f"Result {doc_id} matches the quote; read it around the quote.")
    focus = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(quote.replace("____", " ").split()))
    passage_obs = index.read(doc_id, focus)
    passage = " ".join(json.loads(passage_obs)["passage"].split())
    if " ".join(sentence.split()) not in passage:
        return None  # the read tool did not surface the sentence: no evidence, no trajectory
    turns.append(
        AssistantTurn(
            phases=[pick, Phase("action", "Read the passage.")],
            tool_calls=[ToolCall("read", {"doc_id": doc_id, "focus": focus})],
        )
    )
    turns.append(ToolTurn([ToolResponse("read", passage_obs)]))
    turns.append(
        AssistantTurn(
            phases=[Phase("summary", f"The passage contains the full sentence; the blank is '{answer}'.")],
            content=f'The missing word is "{answer}"; the sentence is from {doc_id} '
            f"({index.titles[doc_id]}).",
        )
    )
    return Trajectory(
        turns=turns,
        system=SYSTEM,
        tools=TOOLS,
        id=tid,
        meta={"category": "research", "construction": "forward", "target": doc_id, "synthetic": SYNTHETIC},
    )


def citation_pairs(index: SearchIndex) -> list[tuple[str, str, str]]:
    """(citing page B, module name, module page A) for pages citing a module whose page is in the index."""
    modules = {}
    for doc_id, doc in index.docs.items():
        m = re.search(r"^\.\. module:: (\S+)", doc["text"], re.M)
        if m and re.search(r":synopsis: (.+)", doc["text"]):
            modules[m.group(1)] = doc_id
    pairs = []
    for doc_id in index.order:
        cited = sorted(set(re.findall(r":mod:`~?([\w.]+)`", index.docs[doc_id]["text"])))
        pairs += [(doc_id, mod, modules[mod]) for mod in cited if mod in modules and modules[mod] != doc_id]
    return pairs


def reverse_trajectory(
    index: SearchIndex, citing: str, module: str, target: str, tid: str
) -> Trajectory | None:
    synopsis = re.search(r":synopsis: (.+)", index.docs[target]["text"]).group(1).strip()
    turns: list = [
        UserTurn(
            f'The Python documentation page "{index.titles[citing]}" refers to the `{module}` '
            "module. What is that module for, according to its own documentation page?"
        )
    ]
    opening = [
        Phase(
            "analysis", f"I need the documentation page of `{module}` itself, not a page that mentions it."
        ),
        Phase("plan", "Search for the module, open its page, read its synopsis."),
    ]
    first_query, second_query = f"{module}", f"{module} module synopsis"

    def top(obs: str) -> str:
        hits = _snippets(obs)
        return hits[0]["id"] if hits else ""

    first = index.search(first_query)
    attempt = _search_step(opening, "Search for the module name.", first_query, first)
    if top(first) == target:
        turns += attempt
    else:
        second = index.search(second_query)
        if top(second) != target:
            return None
        turns += _failed_then_retry(
            attempt,
            "The top result is not the module's own page, only a page that mentions it. "
            "A module page carries a synopsis; add that to the query.",
            "Search again.",
            second_query,
            second,
        )
    read_obs = index.read(target, "synopsis module")
    if synopsis not in json.loads(read_obs)["passage"]:
        return None
    turns.append(
        AssistantTurn(
            phases=[
                Phase("analysis", f"{target} is the module's page."),
                Phase("action", "Read its header."),
            ],
            tool_calls=[ToolCall("read", {"doc_id": target, "focus": "synopsis module"})],
        )
    )
    turns.append(ToolTurn([ToolResponse("read", read_obs)]))
    turns.append(
        AssistantTurn(
            phases=[Phase("summary", "The page's synopsis line answers the question.")],
            content=f"According to its documentation ({target}), `{module}`: {synopsis}",
        )
    )
    return Trajectory(
        turns=turns,
        system=SYSTEM,
        tools=TOOLS,
        id=tid,
        meta={
            "category": "research",
            "construction": "reverse",
            "target": target,
            "cited_by": citing,
            "synthetic": SYNTHETIC,
        },
    )


def synthesize_research(
    seed: int, n_forward: int, n_reverse: int, docs: list[dict[str, Any]] | None = None
) -> list[Trajectory]:
    """Up to ``n_forward`` forward and ``n_reverse`` reverse trajectories over ``docs`` (default: the
    research corpus); fewer when the documents yield fewer."""
    check_int("seed", seed, minimum=None)
    check_int("n_forward", n_forward, minimum=0)
    check_int("n_reverse", n_reverse, minimum=0)
    rng = random.Random(f"research-{seed}")
    index = SearchIndex(docs if docs is not None else research_corpus())
    out: list[Trajectory] = []
    ids = list(index.order)
    rng.shuffle(ids)
    for doc_id in ids:
        if len(out) >= n_forward:
            break
        sentences = _candidate_sentences(index, doc_id)
        if sentences:
            traj = forward_trajectory(
                index, doc_id, rng.choice(sentences), f"synthetic/research/{seed}-f{len(out):04d}"
            )
            if traj is not None:
                out.append(traj)
    pairs = citation_pairs(index)
    rng.shuffle(pairs)
    n_rev = 0
    for citing, module, target in pairs:
        if n_rev >= n_reverse:
            break
        traj = reverse_trajectory(index, citing, module, target, f"synthetic/research/{seed}-r{n_rev:04d}")
        if traj is not None:
            out.append(traj)
            n_rev += 1
    return out
