"""LR schedules as pure functions of the token count: known values, agreement with transformers' WSD, and a
ValueError naming the argument for every bad input."""

from __future__ import annotations

import math

import pytest

from ylm.train.schedule import LRSegment, cosine, wsd

WSD = dict(total=1000, peak=1.0, warmup=100, decay_fraction=0.2, final=0.1)


@pytest.mark.parametrize("tokens, expected", [
    (0, 0.0), (50, 0.5), (100, 1.0),           # linear warmup from 0
    (500, 1.0), (800, 1.0),                    # stable until the last 20%
    (850, 0.775), (900, 0.55), (1000, 0.1),    # linear decay to final
    (1500, 0.1),                               # past total: final
])
def test_wsd_at_known_points(tokens: float, expected: float) -> None:
    assert wsd(tokens, **WSD) == pytest.approx(expected, abs=1e-12)


def test_wsd_cosine_decay_follows_a_half_cosine() -> None:
    # a quarter of the way into the decay: 0.1 + 0.9 * (1 + cos(pi / 4)) / 2, above the linear 0.775
    assert wsd(850, **WSD, shape="cosine") == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
    assert wsd(900, **WSD, shape="cosine") == pytest.approx(0.55)  # the midpoint is the same for both
    assert wsd(1000, **WSD, shape="cosine") == pytest.approx(0.1)


def test_wsd_without_warmup_or_decay_is_constant() -> None:
    assert {wsd(t, total=10, peak=0.3, warmup=0, decay_fraction=0.0) for t in range(11)} == {0.3}


@pytest.mark.parametrize("tokens, expected", [(0, 0.0), (50, 1.0), (100, 2.0), (600, 1.1), (1100, 0.2),
                                              (2000, 0.2)])
def test_cosine_at_known_points(tokens: float, expected: float) -> None:
    assert cosine(tokens, total=1100, peak=2.0, warmup=100, final=0.2) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("decay_type, shape", [("linear", "linear"), ("cosine", "cosine")])
@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.1])
def test_wsd_matches_transformers(decay_type: str, shape: str, min_lr_ratio: float) -> None:
    torch = pytest.importorskip("torch")
    optimization = pytest.importorskip("transformers.optimization")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    theirs = optimization.get_wsd_schedule(optimizer, num_warmup_steps=10, num_decay_steps=30,
                                           num_training_steps=100, decay_type=decay_type,
                                           min_lr_ratio=min_lr_ratio).lr_lambdas[0]
    # transformers warms up from min_lr_ratio, the kit from 0: compare the warmup only when they agree
    first = 0 if min_lr_ratio == 0 else 10
    for step in range(first, 101):
        ours = wsd(step, total=100, peak=1.0, warmup=10, decay_fraction=0.3, final=min_lr_ratio, shape=shape)
        assert ours == pytest.approx(theirs(step), abs=1e-12), step


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_wsd_never_rises_after_warmup(shape: str) -> None:
    values = [wsd(t, **WSD, shape=shape) for t in range(100, 1001)]
    assert all(b <= a for a, b in zip(values, values[1:], strict=False))
    assert values[0] > values[-1]


@pytest.mark.parametrize("overrides, field", [
    (dict(tokens=-1), "tokens"),
    (dict(tokens=math.nan), "tokens"),
    (dict(total=0), "total"),
    (dict(total=math.inf), "total"),
    (dict(peak=-1e-3), "peak"),
    (dict(peak=True), "peak"),
    (dict(final=math.nan), "final"),
    (dict(warmup=2000), "warmup"),
    (dict(warmup=900), "warmup"),               # the warmup would run into the decay
    (dict(decay_fraction=1.5), "decay_fraction"),
    (dict(decay_fraction=-0.1), "decay_fraction"),
    (dict(shape="exponential"), "shape"),
])
def test_wsd_refuses_bad_input(overrides: dict, field: str) -> None:
    args = {"tokens": 10, **WSD, **overrides}
    with pytest.raises(ValueError, match=rf"^{field}="):
        wsd(args.pop("tokens"), **args)


@pytest.mark.parametrize("overrides, field", [
    (dict(tokens=-5), "tokens"), (dict(warmup=1200), "warmup"), (dict(peak=math.inf), "peak"),
    (dict(final=-0.1), "final"), (dict(total=-1), "total"),
])
def test_cosine_refuses_bad_input(overrides: dict, field: str) -> None:
    args = {"tokens": 10, "total": 1100, "peak": 2.0, "warmup": 100, **overrides}
    with pytest.raises(ValueError, match=rf"^{field}="):
        cosine(args.pop("tokens"), **args)


@pytest.mark.parametrize("segment, t, expected", [
    (LRSegment(2.0, 2.0, "constant"), 0, 2.0),
    (LRSegment(2.0, 2.0, "constant"), 100, 2.0),
    (LRSegment(1.0, 0.5, "linear"), 25, 0.875),
    (LRSegment(1.0, 0.5, "linear"), 100, 0.5),
    (LRSegment(1.0, 0.5, "cosine"), 25, 0.5 + 0.25 * (1 + math.cos(math.pi / 4))),
    (LRSegment(1.0, 0.5, "cosine"), 50, 0.75),
    (LRSegment(0.5, 1.0, "linear"), 50, 0.75),  # a rising segment is allowed
])
def test_segment_values(segment: LRSegment, t: float, expected: float) -> None:
    assert segment.value(t, 100) == pytest.approx(expected, abs=1e-12)


def test_segment_warmup_rises_from_zero_then_runs_the_shape_over_the_rest() -> None:
    segment = LRSegment(1.0, 0.5, "linear", warmup_tokens=20)
    assert [segment.value(t, 120) for t in (0, 10, 20, 70, 120)] == pytest.approx([0.0, 0.5, 1.0, 0.75, 0.5])


@pytest.mark.parametrize("kwargs, field", [
    (dict(start=-1.0, end=0.0, shape="linear"), "start"),
    (dict(start=1.0, end=math.nan, shape="linear"), "end"),
    (dict(start=1.0, end=0.5, shape="step"), "shape"),
    (dict(start=1.0, end=0.5, shape="constant"), "end"),
    (dict(start=1.0, end=1.0, shape="constant", warmup_tokens=-1), "warmup_tokens"),
    (dict(start=1.0, end=1.0, shape="constant", warmup_tokens=2.5), "warmup_tokens"),
])
def test_segment_refuses_bad_fields(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}="):
        LRSegment(**kwargs)


@pytest.mark.parametrize("t, length, field", [(-1, 100, "t"), (101, 100, "t"), (math.nan, 100, "t"),
                                              (0, 0, "length"), (5, 10, "warmup_tokens")])
def test_segment_value_refuses_positions_outside_it(t: float, length: float, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}="):
        LRSegment(1.0, 0.5, "linear", warmup_tokens=10).value(t, length)
