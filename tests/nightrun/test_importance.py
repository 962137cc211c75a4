"""The importance score: every factor in [0, 1], the reference's mistakes fixed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sentinel.nightrun.episodes import RELEVANCE, Episode
from sentinel.nightrun.importance import THRESHOLD, TOP, score, select


def _episode(kind: str = "tool_failed", reps: int = 1, last: int = 0, valence: float = 0.0,
             arousal: float = 0.0, key: str = "k") -> Episode:  # fmt: skip
    return Episode("A", key, kind, "text", reps, 0, last, valence, arousal)


@given(
    kind=st.sampled_from(sorted(RELEVANCE)),
    reps=st.integers(1, 10_000),
    ago=st.integers(0, 10 * 86_400),
    valence=st.floats(-1, 1),
    arousal=st.floats(0, 1),
)
def test_every_score_is_a_product_of_factors_in_the_unit_interval(
    kind: str, reps: int, ago: int, valence: float, arousal: float
) -> None:
    scored = score(_episode(kind, reps, 0, valence, arousal), ago, 1.0)
    for factor in (scored.relevance, scored.emotion, scored.repetition, scored.recency):
        assert 0.0 <= factor <= 1.0
    assert 0.0 <= scored.score <= 1.0


def test_repetitions_saturate_instead_of_multiplying() -> None:
    walks = score(_episode("went", reps=50), 0, 1.0)
    violation = score(_episode("violation", reps=1), 0, 1.0)
    assert walks.repetition == 1.0
    assert violation.score > walks.score * 0.9  # fifty walks are not worth 50 violations


def test_a_bad_feeling_is_as_memorable_as_a_good_one() -> None:
    bad = score(_episode(valence=-0.9), 0, 1.0)
    good = score(_episode(valence=0.9), 0, 1.0)
    neutral = score(_episode(valence=0.0), 0, 1.0)
    assert bad.score == good.score > neutral.score


def test_recency_counts_simulated_hours_and_halves_per_shift() -> None:
    now = score(_episode(last=8 * 3600), 8 * 3600, 1.0)
    shift_ago = score(_episode(last=0), 8 * 3600, 1.0)
    assert now.recency == 1.0
    assert shift_ago.recency == 0.5
    # The same ticks at a time scale of 2 seconds a tick are twice the hours.
    assert score(_episode(last=0), 4 * 3600, 2.0).recency == 0.5


def test_select_keeps_the_top_ten_above_the_threshold_in_a_stable_order() -> None:
    scored = [score(_episode("violation", 4, 0, 0.9, key=f"k{i:02d}"), 0, 1.0) for i in range(15)]
    scored += [score(_episode("went", 1, key="low"), 0, 1.0)]
    kept = select(scored)
    assert len(kept) == TOP
    assert all(s.score >= THRESHOLD for s in kept)
    assert [s.episode.key for s in kept] == [f"k{i:02d}" for i in range(10)]
