"""The packed mixture sampler: weights, separators, shifted labels, trajectory masks, determinism, resuming.

Most checks run on a tiny fake corpus (``data_dir`` pointed at a temporary folder) whose documents are known,
so the packed stream can be cut back into documents. Each checker is also fed a deliberately broken stream or
batch and must reject it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models

from ylm.agent.render import render
from ylm.agent.synth import CATEGORIES, load_synthetic
from ylm.tokenizer.kit import kit_tokenizer
from ylm.tokenizer.special_tokens import EOS
from ylm.tokenizer.train import encode_plain
from ylm.train.sampler import FRESH_MATH_PER_EPOCH, DocumentSource, PackedSampler

TEXT_DOMAINS = ("general", "stem", "code")
MIXTURE = {"general": 0.5, "stem": 0.3, "code": 0.2}


def fake_texts(domain: str) -> list[str]:
    """Distinct documents from a handful of tokens to a few hundred, so some span several rows."""
    lengths = {"general": (2, 12, 4, 45, 6, 1), "stem": (3, 25, 1, 8), "code": (10, 2, 70)}[domain]  # words
    texts = [" ".join(f"{domain}{k}w{j}" for j in range(n)) for k, n in enumerate(lengths)]
    if domain == "general":
        texts[2] += f" spelled {EOS} inside"  # plain text: must not become a separator
    return texts


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return kit_tokenizer()


@pytest.fixture(scope="module")
def sep(tok: Tokenizer) -> int:
    return tok.token_to_id(EOS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for domain in TEXT_DOMAINS:
        (root / domain).mkdir()
        docs = [{"id": f"{domain}/{k}", "source": "fake", "text": t} for k, t in enumerate(fake_texts(domain))]
        docs.insert(1, {"id": f"{domain}/empty", "source": "fake", "text": ""})  # skipped, never a document
        (root / domain / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def known(tok: Tokenizer) -> dict[tuple[int, ...], str]:
    """Encoded fake document -> its domain."""
    return {tuple(encode_plain(tok, t)): d for d in TEXT_DOMAINS for t in fake_texts(d)}


def draw(sampler: PackedSampler, n: int, batch_size: int = 4) -> list[dict[str, torch.Tensor]]:
    return [sampler.next_batch(batch_size) for _ in range(n)]


def stream_of(batches: list[dict[str, torch.Tensor]]) -> tuple[list[int], list[float]]:
    """The packed stream and the loss mask of each of its tokens (the first token has none: nan)."""
    labels = [t for b in batches for t in b["labels"].flatten().tolist()]
    mask = [m for b in batches for m in b["loss_mask"].flatten().tolist()]
    return [int(batches[0]["input_ids"][0, 0])] + labels, [float("nan")] + mask


# ---------------------------------------------------------------- checkers


def assert_shifted(batches: list[dict[str, torch.Tensor]]) -> None:
    """labels[r, t] is the stream token after input_ids[r, t], within a row and from one row to the next."""
    ids = torch.cat([b["input_ids"] for b in batches])
    labels = torch.cat([b["labels"] for b in batches])
    assert torch.equal(labels[:, :-1], ids[:, 1:])
    assert torch.equal(labels[:-1, -1], ids[1:, 0])


def documents_of(stream: list[int], sep: int, known: dict[tuple[int, ...], str]) -> list[tuple[int, ...]]:
    """The stream cut at separators: every piece but the last must be one whole known document."""
    pieces, start = [], 0
    for k, token in enumerate(stream):
        if token == sep:
            pieces.append(tuple(stream[start:k]))
            start = k + 1
    for piece in pieces:
        assert piece in known, f"{len(piece)} tokens between separators are not one document"
    tail = tuple(stream[start:])
    assert any(doc[: len(tail)] == tail for doc in known), "the stream does not end inside a document"
    return pieces


def assert_frequencies(counts: dict[str, int], weights: dict[str, float], tolerance: float) -> None:
    total = sum(counts.values())
    for domain, weight in weights.items():
        assert abs(counts.get(domain, 0) / total - weight) < tolerance, (domain, counts)


def assert_stream_matches(stream: list[int], mask: list[float], docs: list[tuple[list[int], list[int]]],
                          sep: int) -> None:
    """The stream and its label mask are the documents in order, each closed by one separator (added with
    mask 1 unless the document already ends with it)."""
    ids, weights = [], []
    for doc_ids, doc_mask in docs:
        closed = doc_ids[-1] == sep
        ids += doc_ids + ([] if closed else [sep])
        weights += doc_mask + ([] if closed else [1])
    n = min(len(stream), len(ids))
    assert n > 1 and stream[:n] == ids[:n]
    assert mask[1:n] == [float(m) for m in weights[1:n]]


# ---------------------------------------------------------------- the checkers catch broken output


def test_checkers_reject_broken_output(tok: Tokenizer, sep: int, corpus: Path,
                                       known: dict[tuple[int, ...], str]) -> None:
    batches = draw(PackedSampler(tok, MIXTURE, 32, seed=0, data_dir=corpus), 6)
    stream, mask = stream_of(batches)
    unshifted = [{**b, "labels": b["input_ids"].clone()} for b in batches]
    with pytest.raises(AssertionError):
        assert_shifted(unshifted)
    rows_not_overlapping = [{k: v.roll(1, dims=0) for k, v in b.items()} for b in batches]
    with pytest.raises(AssertionError):
        assert_shifted(rows_not_overlapping)
    first_sep = stream.index(sep)
    with pytest.raises(AssertionError):  # two documents joined without a separator
        documents_of(stream[:first_sep] + stream[first_sep + 1 :], sep, known)
    with pytest.raises(AssertionError):  # a token of a split document dropped
        documents_of(stream[:1] + stream[2:], sep, known)
    with pytest.raises(AssertionError):
        assert_frequencies({"general": 500, "stem": 500, "code": 1000}, MIXTURE, 0.03)
    docs = [(list(ids), [0, 1] * (len(ids) // 2) + [0] * (len(ids) % 2)) for ids in known]
    good_stream = [i for ids, _ in docs for i in ids + [sep]]
    good_mask = [float("nan")] + [float(m) for _, mk in docs for m in mk + [1]][1:]
    assert_stream_matches(good_stream, good_mask, docs, sep)
    with pytest.raises(AssertionError):  # loss on every token
        assert_stream_matches(good_stream, [1.0] * len(good_mask), docs, sep)


# ---------------------------------------------------------------- packing


def test_token_shares_converge_to_the_weights(tok: Tokenizer, corpus: Path) -> None:
    sampler = PackedSampler(tok, MIXTURE, 64, seed=3, data_dir=corpus)
    while sum(c["documents"] for c in sampler.tokens_drawn().values()) < 2000:
        sampler.next_batch(16)
    tokens = {d: c["tokens"] for d, c in sampler.tokens_drawn().items()}
    assert tokens["agent"] == 0
    assert_frequencies(tokens, MIXTURE, 0.01)
    documents = {d: c["documents"] for d, c in sampler.tokens_drawn().items()}
    with pytest.raises(AssertionError):  # the documents' shares are not the weights: the documents differ in length
        assert_frequencies(documents, MIXTURE, 0.01)


def test_every_boundary_has_a_separator_and_no_token_is_dropped(
        tok: Tokenizer, sep: int, corpus: Path, known: dict[tuple[int, ...], str]) -> None:
    batches = draw(PackedSampler(tok, MIXTURE, 48, seed=1, data_dir=corpus), 20)
    stream, mask = stream_of(batches)
    pieces = documents_of(stream, sep, known)
    assert len(pieces) > 3 * len(known)  # several epochs of every domain
    assert all(m == 1.0 for m in mask[1:])  # text and separators are all supervised
    assert any(len(p) > 48 for p in pieces)  # some documents were split across rows
    spelled = tuple(encode_plain(tok, fake_texts("general")[2]))
    assert sep not in spelled and spelled in pieces
    for domain in TEXT_DOMAINS:  # each domain's documents come in its source's order, none skipped
        source = DocumentSource(domain, tok, seed=1, data_dir=corpus)
        mine = [p for p in pieces if known[p] == domain]
        assert mine == [tuple(next(source)[0]) for _ in mine]


def test_text_source_visits_every_document_once_per_epoch_in_a_new_order(tok: Tokenizer, corpus: Path) -> None:
    docs = [tuple(encode_plain(tok, t)) for t in fake_texts("general")]

    def epochs(seed: int) -> list[list[tuple[int, ...]]]:
        source = DocumentSource("general", tok, seed=seed, data_dir=corpus)
        return [[tuple(next(source)[0]) for _ in docs] for _ in range(3)]

    mine = epochs(0)
    assert all(sorted(epoch) == sorted(docs) for epoch in mine)  # the empty document is skipped
    assert mine[0] != mine[1] != mine[2]
    assert epochs(0) == mine and epochs(1) != mine
    source = DocumentSource("general", tok, seed=0, data_dir=corpus)
    assert next(source) == (list(mine[0][0]), [1] * len(mine[0][0]))  # text: every token supervised


def test_labels_are_the_stream_shifted_by_one(tok: Tokenizer, corpus: Path) -> None:
    sampler = PackedSampler(tok, MIXTURE, 24, seed=2, data_dir=corpus)
    batches = draw(sampler, 5)
    sampler.set_seq_len(40)  # the stream runs on across a length change
    batches += draw(sampler, 5)
    assert_shifted(batches[:5])
    assert_shifted(batches[5:])
    assert torch.equal(batches[4]["labels"][-1, -1], batches[5]["input_ids"][0, 0])
    b = batches[-1]
    assert b["input_ids"].shape == b["labels"].shape == b["loss_mask"].shape == (4, 40)
    assert b["input_ids"].dtype == b["labels"].dtype == torch.int64


def test_tokens_drawn_counts_every_label(tok: Tokenizer, corpus: Path) -> None:
    sampler = PackedSampler(tok, MIXTURE, 32, seed=0, data_dir=corpus)
    batches = draw(sampler, 7, batch_size=3)
    counts = sampler.tokens_drawn()
    assert sum(c["tokens"] for c in counts.values()) == 7 * 3 * 32
    assert sum(c["supervised"] for c in counts.values()) == sum(int(b["loss_mask"].sum()) for b in batches)
    assert all(counts[d]["tokens"] > 0 for d in TEXT_DOMAINS)


def test_set_mixture_and_set_seq_len_keep_the_cursors(tok: Tokenizer, sep: int, corpus: Path,
                                                     known: dict[tuple[int, ...], str]) -> None:
    sampler = PackedSampler(tok, MIXTURE, 32, seed=4, data_dir=corpus)
    batches = draw(sampler, 3)
    cursors = sampler.state_dict()["sources"]
    sampler.set_mixture({"code": 1.0})
    sampler.set_seq_len(16)
    batches += draw(sampler, 12)
    after = sampler.state_dict()["sources"]
    assert after["general"] == cursors["general"] and after["stem"] == cursors["stem"]
    assert after["code"] != cursors["code"]
    stream, _ = stream_of(batches[:3])
    drawn_before = len(documents_of(stream, sep, known))
    later = documents_of(stream_of(batches)[0], sep, known)[drawn_before + 1 :]  # after the leftover
    assert later and all(known[p] == "code" for p in later)


# ---------------------------------------------------------------- the agent domain


def committed() -> list:
    return [t for c in CATEGORIES for t in load_synthetic(c)]


def test_trajectory_loss_mask_is_the_rendered_one(tok: Tokenizer, sep: int) -> None:
    trajs = committed()
    source = DocumentSource("agent", tok, seed=0)
    epoch = [next(source) for _ in range(len(trajs) + FRESH_MATH_PER_EPOCH)]
    assert source.state_dict() == {"epoch": 0, "position": len(epoch)}
    masks = {tuple(ids): mask for ids, mask in epoch}
    for traj in trajs[::10]:
        rendered = render(traj, tok)
        assert masks[tuple(rendered.ids)] == rendered.mask
    # packed alone, the agent stream is those documents in the source's order, masks kept
    batches = draw(PackedSampler(tok, {"agent": 1.0}, 256, seed=0), 4)
    stream, mask = stream_of(batches)
    assert_stream_matches(stream, mask, epoch, sep)
    assert 0 < sum(mask[1:]) < len(mask) - 1


def test_agent_source_synthesizes_fresh_trajectories(tok: Tokenizer) -> None:
    n_committed = len(committed())
    source = DocumentSource("agent", tok, seed=5)
    distinct = {tuple(next(source)[0]) for _ in range(n_committed + FRESH_MATH_PER_EPOCH + 10)}
    assert len(distinct) > n_committed + FRESH_MATH_PER_EPOCH  # epoch 1's fresh batch is new again
    # resuming across an epoch boundary: the same cursor gives the same next documents
    state = {"epoch": 1, "position": n_committed + FRESH_MATH_PER_EPOCH - 2}
    a, b = DocumentSource("agent", tok, seed=5), DocumentSource("agent", tok, seed=5)
    a.load_state_dict(state)
    b.load_state_dict(json.loads(json.dumps(state)))
    assert [next(a) for _ in range(4)] == [next(b) for _ in range(4)]
    assert a.state_dict() == {"epoch": 2, "position": 2}


# ---------------------------------------------------------------- determinism and resuming


def test_a_seed_fixes_the_batches_and_another_seed_changes_them(tok: Tokenizer, corpus: Path) -> None:
    def batches(seed: int) -> list[dict[str, torch.Tensor]]:
        return draw(PackedSampler(tok, MIXTURE, 32, seed=seed, data_dir=corpus), 4)

    same, again, other = batches(7), batches(7), batches(8)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(same, again, strict=True) for k in x)
    assert not all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(same, other, strict=True))
    # the mixture's key order does not matter
    reordered = draw(PackedSampler(tok, dict(reversed(MIXTURE.items())), 32, seed=7, data_dir=corpus), 4)
    assert all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(same, reordered, strict=True))


def test_state_dict_round_trip_resumes_exactly(tok: Tokenizer, corpus: Path) -> None:
    original = PackedSampler(tok, MIXTURE, 32, seed=6, data_dir=corpus)
    draw(original, 2)
    original.set_mixture({"general": 0.25, "stem": 0.25, "code": 0.5})
    original.set_seq_len(20)
    while len(original.state_dict()["leftover"]["ids"]) < 3:  # save with a real partial document pending
        original.next_batch(1)
    state = json.loads(json.dumps(original.state_dict()))
    restored = PackedSampler(tok, {"stem": 1.0}, 64, seed=0, data_dir=corpus)  # seed and settings from state
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    ahead, resumed = draw(original, 20), draw(restored, 20)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(ahead, resumed, strict=True) for k in x)
    assert restored.tokens_drawn() == original.tokens_drawn()
    crossed = [d for d, c in original.state_dict()["sources"].items() if c["epoch"] > state["sources"][d]["epoch"]]
    assert crossed  # the resumed batches ran across a domain's epoch boundary
    # the check is sharp: a state that forgets the leftover gives other batches
    forgetful = PackedSampler(tok, MIXTURE, 32, seed=6, data_dir=corpus)
    forgetful.load_state_dict({**state, "leftover": None})
    assert not torch.equal(draw(forgetful, 1)[0]["input_ids"], ahead[0]["input_ids"])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, match", [
    ({"mixture": {"general": 0.5, "maths": 0.5}}, "mixture: unknown domain 'maths'"),
    ({"mixture": {"general": 0.5, "stem": 0.4}}, "sum to 1"),
    ({"mixture": {"general": 1.5, "stem": -0.5}}, r"mixture\['stem'\]"),
    ({"mixture": {"general": float("nan")}}, r"mixture\['general'\]"),
    ({"mixture": {}}, "mixture must be a non-empty dict"),
    ({"seq_len": 1}, "seq_len=.*: must be an integer >= 2"),
    ({"seq_len": 8.0}, "seq_len=.*: must be an integer >= 2"),
    ({"seed": -1}, "seed=-1: must be an integer >= 0"),
])
def test_bad_settings_raise(tok: Tokenizer, corpus: Path, kwargs: dict, match: str) -> None:
    settings = {"mixture": MIXTURE, "seq_len": 16, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        PackedSampler(tok, data_dir=corpus, **settings)


def test_bad_calls_raise(tok: Tokenizer, corpus: Path) -> None:
    sampler = PackedSampler(tok, MIXTURE, 16, seed=0, data_dir=corpus)
    for batch_size in (0, -2, 1.0):
        with pytest.raises(ValueError, match="batch_size=.*: must be a positive integer"):
            sampler.next_batch(batch_size)
    with pytest.raises(ValueError, match="mixture: unknown domain"):
        sampler.set_mixture({"news": 1.0})
    with pytest.raises(ValueError, match="seq_len"):
        sampler.set_seq_len(0)
    with pytest.raises(ValueError, match="state is missing mixture_tokens"):
        sampler.load_state_dict({k: v for k, v in sampler.state_dict().items() if k != "mixture_tokens"})
    with pytest.raises(ValueError, match="tokenizer has no '<\\|end_of_text\\|>'"):
        PackedSampler(Tokenizer(models.BPE()), MIXTURE, 16, seed=0, data_dir=corpus)
    with pytest.raises(ValueError, match="domain: unknown domain 'web'"):
        DocumentSource("web", tok, seed=0, data_dir=corpus)
    with pytest.raises(ValueError, match=r"state\['position'\]"):
        DocumentSource("code", tok, seed=0, data_dir=corpus).load_state_dict({"epoch": 0, "position": -1})
    assert sampler.mixture == MIXTURE and sampler.seq_len == 16  # failed calls changed nothing
