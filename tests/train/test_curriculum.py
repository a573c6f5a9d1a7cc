"""The curriculum: boundaries, locate, a continuous LR across stages, the paper's shares and ratios kept by
``paper_curriculum``, a JSON round trip, and a ValueError naming the stage and field for each broken config."""

from __future__ import annotations

import json
import math

import pytest

from ylm.data import DOMAINS
from ylm.train.curriculum import (
    PAPER_STAGE1_TOKENS,
    PAPER_TOTAL_TOKENS,
    Curriculum,
    Stage,
    describe,
    paper_curriculum,
)
from ylm.train.schedule import LRSegment

BUDGETS = [10_000, 1_000_003, 37_000_000, 2_000_000_000]


def stage(name: str = "bad", **overrides) -> Stage:
    """A valid stage unless ``overrides`` break it."""
    fields = dict(tokens=1000, mixture={"general": 0.5, "stem": 0.5}, seq_lens=(32, 64),
                  lr=LRSegment(1.0, 1.0, "constant"))
    return Stage(name, **{**fields, **overrides})


def two_stages() -> Curriculum:
    return Curriculum((stage("a", step_tokens=(300, 700)),
                       stage("b", tokens=500, seq_lens=(128,), lr=LRSegment(1.0, 0.1, "linear"))))


# ---- boundaries, locate, lr_at ------------------------------------------------------------------------
def test_boundaries_and_total() -> None:
    curriculum = two_stages()
    assert curriculum.total_tokens == 1500
    assert curriculum.boundaries() == (0, 1000, 1500)


@pytest.mark.parametrize("tokens, expected", [
    (0, (0, 0, 32)), (299, (0, 0, 32)), (300, (0, 1, 64)),   # explicit step_tokens
    (999, (0, 1, 64)), (1000, (1, 0, 128)),                   # a boundary belongs to the stage starting there
    (1500, (1, 0, 128)),                                      # the end belongs to the last step
])
def test_locate_at_boundaries(tokens: int, expected: tuple[int, int, int]) -> None:
    assert two_stages().locate(tokens) == expected


@pytest.mark.parametrize("tokens", [-1, 1501, 2.5])
def test_locate_refuses_positions_outside_the_curriculum(tokens: float) -> None:
    with pytest.raises(ValueError, match="^tokens="):
        two_stages().locate(tokens)


def test_equal_split_puts_the_remainder_on_the_last_step() -> None:
    assert stage(tokens=1001, seq_lens=(16, 32, 64)).step_budgets() == (333, 333, 335)
    assert stage(step_tokens=(1, 999)).step_budgets() == (1, 999)


def test_lr_at_follows_each_stage_segment_and_stays_at_the_end_past_it() -> None:
    curriculum = two_stages()
    assert curriculum.lr_at(999) == 1.0
    assert curriculum.lr_at(1250) == pytest.approx(0.55)
    assert curriculum.lr_at(1500) == pytest.approx(0.1)
    assert curriculum.lr_at(10**9) == pytest.approx(0.1)


@pytest.mark.parametrize("budget", BUDGETS)
def test_paper_lr_is_continuous_at_every_boundary(budget: int) -> None:
    curriculum = paper_curriculum(budget)
    # one token moves the LR by at most the steepest stage's whole drop spread over its tokens (1% slack
    # for the rounding of differences of ~1e-11 at an LR of ~1e-3)
    step = 1.01 * max(abs(s.lr.start - s.lr.end) / s.tokens for s in curriculum.stages)
    for previous, b in zip(curriculum.stages, curriculum.boundaries()[1:-1], strict=False):
        before, at, after = curriculum.lr_at(b - 1), curriculum.lr_at(b), curriculum.lr_at(b + 1)
        assert at == pytest.approx(previous.lr.end, rel=1e-12)
        assert abs(at - before) <= step and abs(after - at) <= step


@pytest.mark.parametrize("budget", BUDGETS)
def test_paper_lr_decays_monotonically_through_stages_3_and_4(budget: int) -> None:
    curriculum = paper_curriculum(budget, peak_lr=1e-3, final_lr_ratio=0.05)
    start, total = curriculum.boundaries()[2], curriculum.total_tokens
    points = sorted({start + (total - start) * i // 200 for i in range(201)})
    values = [curriculum.lr_at(t) for t in points]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    assert values[0] == pytest.approx(1e-3) and values[-1] == pytest.approx(5e-5)


def test_a_jump_between_stages_is_refused_unless_the_next_stage_warms_up() -> None:
    low = LRSegment(0.5, 0.5, "constant")
    with pytest.raises(ValueError, match=r"stage 'b': lr\.start=0\.5 .*stage 'a'.*lr\.end=1\.0"):
        Curriculum((stage("a"), stage("b", lr=low)))
    restart = Curriculum((stage("a"), stage("b", lr=LRSegment(0.5, 0.5, "constant", warmup_tokens=10))))
    assert restart.lr_at(1000) == 0.0 and restart.lr_at(1010) == 0.5


# ---- paper_curriculum ---------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", BUDGETS)
def test_paper_curriculum_keeps_the_papers_shares(budget: int) -> None:
    curriculum = paper_curriculum(budget)
    first, second, third, fourth = curriculum.stages
    assert curriculum.total_tokens == budget
    assert abs(first.tokens - budget * PAPER_STAGE1_TOKENS / PAPER_TOTAL_TOKENS) <= 0.5
    assert first.tokens / budget == pytest.approx(0.753, abs=5e-4)
    assert first.mixture["general"] == 0.75
    assert second.mixture["stem"] + second.mixture["code"] == pytest.approx(0.60)
    assert fourth.mixture["agent"] == 0.60
    assert first.mixture["agent"] == second.mixture["agent"] == third.mixture["agent"] == 0


@pytest.mark.parametrize("seq_len, length_steps, lengths", [
    (512, (1, 4, 16), (32, 128, 512)),
    (1024, (1, 4, 16), (64, 256, 1024)),
    (1024, (1, 2, 4), (256, 512, 1024)),
])
def test_paper_curriculum_maps_the_length_ratio_onto_seq_len(seq_len: int, length_steps: tuple[int, ...],
                                                              lengths: tuple[int, ...]) -> None:
    first, second, third, fourth = paper_curriculum(10**7, seq_len=seq_len, length_steps=length_steps).stages
    assert third.seq_lens == lengths
    assert tuple(n * length_steps[-1] // seq_len for n in third.seq_lens) == length_steps
    assert first.seq_lens == second.seq_lens == (lengths[0],)
    assert fourth.seq_lens == (seq_len,)
    assert len(set(third.step_budgets()[:-1])) == 1  # equal tokens per length step


def test_paper_curriculum_lr_warms_up_holds_then_decays_to_the_final_ratio() -> None:
    curriculum = paper_curriculum(10**7, peak_lr=2e-3, final_lr_ratio=0.04)
    b = curriculum.boundaries()
    assert curriculum.lr_at(0) == 0.0
    assert curriculum.lr_at(50_000) == pytest.approx(1e-3)  # halfway through 1% warmup
    assert curriculum.lr_at(100_000) == curriculum.lr_at(b[2]) == 2e-3
    assert curriculum.lr_at(b[3]) == pytest.approx(2e-3 * 0.2)  # peak * sqrt(final_lr_ratio)
    assert curriculum.lr_at(b[4]) == pytest.approx(2e-3 * 0.04)


def test_paper_curriculum_stage_shares_and_rope_theta() -> None:
    curriculum = paper_curriculum(1000, stage_shares=(0.4, 0.3, 0.2, 0.1), rope_theta_extension=1.6e6)
    assert [s.tokens for s in curriculum.stages] == [400, 300, 200, 100]
    assert [s.rope_theta for s in curriculum.stages] == [None, None, 1.6e6, None]
    assert all("stage_shares" in s.note for s in curriculum.stages)


def test_every_paper_stage_says_where_each_number_comes_from() -> None:
    for s in paper_curriculum(10**6).stages:
        assert all(f"{field}:" in s.note for field in ("tokens", "mixture", "seq_len", "lr")), s.name
        assert "paper" in s.note and "ours" in s.note


@pytest.mark.parametrize("kwargs, field", [
    (dict(total_tokens=0), "total_tokens"),
    (dict(peak_lr=-1e-3), "peak_lr"),
    (dict(final_lr_ratio=0.0), "final_lr_ratio"),
    (dict(final_lr_ratio=1.5), "final_lr_ratio"),
    (dict(stage_shares=(0.5, 0.2, 0.2, 0.2)), "stage_shares"),
    (dict(stage_shares=(0.5, 0.5)), "stage_shares"),
    (dict(stage_shares=(1.0, 0.0, 0.0, 0.0)), "stage_shares"),
    (dict(seq_len=1000), "seq_len"),                      # 1000 / 16 is no whole length
    (dict(seq_len=128), "seq_len"),                       # 128 / 16 = 8 < 16
    (dict(length_steps=(1, 4, 4)), "length_steps"),
    (dict(length_steps=()), "length_steps"),
])
def test_paper_curriculum_refuses_bad_arguments(kwargs: dict, field: str) -> None:
    args = {"total_tokens": 10**6, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}="):
        paper_curriculum(args.pop("total_tokens"), **args)


# ---- serialisation and describe -----------------------------------------------------------------------
def test_to_dict_round_trips_through_json() -> None:
    for curriculum in (paper_curriculum(12_345_678, rope_theta_extension=5e5), two_stages()):
        data = curriculum.to_dict()
        assert json.loads(json.dumps(data)) == data
        again = Curriculum.from_dict(json.loads(json.dumps(data)))
        assert again == curriculum
        mid_decay = (curriculum.boundaries()[-2] + curriculum.total_tokens) // 2  # a resume reads the same LR
        assert again.lr_at(mid_decay) == curriculum.lr_at(mid_decay)


def test_describe_has_one_row_per_length_step_and_chains_tokens_and_lr() -> None:
    curriculum = paper_curriculum(10**6)
    table = describe(curriculum)
    assert list(table["name"]) == ["commonsense", "stem_code", "annealing", "annealing", "annealing", "agentic"]
    assert table["tokens"].sum() == curriculum.total_tokens
    assert list(table["start_token"][1:]) == list(table["end_token"][:-1])
    assert list(table["lr_start"][1:]) == pytest.approx(list(table["lr_end"][:-1]), rel=1e-12)
    assert table[list(DOMAINS)].sum(axis=1).tolist() == pytest.approx([1.0] * 6)
    assert table["seq_len"].tolist() == [32, 32, 32, 128, 512, 512]


def test_a_stage_keeps_its_own_copy_of_the_mixture() -> None:
    mixture = {"general": 1.0}
    built = stage(mixture=mixture)
    mixture["general"] = 0.0
    assert built.mixture == {"general": 1.0}


# ---- every broken config names the stage and the field -------------------------------------------------
@pytest.mark.parametrize("overrides, message", [
    (dict(mixture={"general": 0.5, "stem": 0.4}), r"mixture weights sum to 0\.9"),
    (dict(mixture={"general": 0.5, "math": 0.5}), r"mixture has unknown domains \['math'\]"),
    (dict(mixture={"general": 1.5, "stem": -0.5}), r"mixture\['stem'\]=-0\.5"),
    (dict(mixture={"general": math.nan, "stem": 1.0}), r"mixture\['general'\]=nan"),
    (dict(mixture=[("general", 1.0)]), r"mixture="),
    (dict(seq_lens=(64, 64)), r"seq_lens=\(64, 64\): must be strictly increasing"),
    (dict(seq_lens=(128, 64)), r"seq_lens=\(128, 64\): must be strictly increasing"),
    (dict(seq_lens=(8, 64)), r"seq_lens=8: must be an integer >= 16"),
    (dict(seq_lens=[32, 64]), r"seq_lens=\[32, 64\]"),
    (dict(seq_lens=()), r"seq_lens=\(\)"),
    (dict(tokens=0), r"tokens=0"),
    (dict(tokens=-5), r"tokens=-5"),
    (dict(tokens=1, seq_lens=(32, 64)), r"tokens=1: fewer than one per length step"),
    (dict(step_tokens=(100, 200)), r"step_tokens=\(100, 200\) sum to 300: must sum to tokens=1000"),
    (dict(step_tokens=(1000,)), r"step_tokens=\(1000,\): must be a tuple of 2"),
    (dict(step_tokens=(0, 1000)), r"step_tokens=0"),
    (dict(lr=LRSegment(1.0, 1.0, "constant", warmup_tokens=1000)), r"lr\.warmup_tokens=1000"),
    (dict(lr=0.001), r"lr=0\.001"),
    (dict(rope_theta=0.0), r"rope_theta=0\.0"),
    (dict(rope_theta=math.inf), r"rope_theta=inf"),
    (dict(note=None), r"note=None"),
])
def test_a_broken_stage_is_refused_naming_stage_and_field(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^stage 'bad': {message}"):
        stage(**overrides)


def test_a_stage_needs_a_name() -> None:
    with pytest.raises(ValueError, match="^name=''"):
        stage("")


@pytest.mark.parametrize("stages, message", [
    ((), r"^stages=\(\): .*empty curriculum"),
    ([stage("a")], r"^stages=\[.*must be a non-empty tuple"),
    ((stage("a"), "b"), r"^stages\[1\]='b': must be a Stage"),
    ((stage("a"), stage("b"), stage("a")), r"^stage 'a': name is used by stages 0 and 2"),
])
def test_a_broken_curriculum_is_refused(stages: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Curriculum(stages)


def test_validate_refuses_a_length_the_model_cannot_hold() -> None:
    curriculum = paper_curriculum(10**6, seq_len=512)
    curriculum.validate(max_position_embeddings=512)
    with pytest.raises(ValueError, match=r"^stage 'annealing': seq_lens=\(32, 128, 512\) go above "
                                         r"max_position_embeddings=256"):
        curriculum.validate(max_position_embeddings=256)
    with pytest.raises(ValueError, match="^max_position_embeddings="):
        curriculum.validate(max_position_embeddings=0)
