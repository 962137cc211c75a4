"""Fatigue: an agent that repeats itself more and says less as its shift goes on.

The reference measured the repetition rate of message openings and a falling length trend
(SEED_NOTES, Judge). A level of repetition alone is the route's style (the offline provider
has three lines per temperament), so ours scores the change over the shift: repetition of
openings in the last third against the first third, and the fall of message length over
the shift, each in [0, 1]. The random baseline shuffles the order of the same messages: a
fatigue score that random orders reach as often is no fatigue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import numpy as np

from sentinel.judge.embedding import tokens
from sentinel.judge.verdict import Explanation, Severity, Verdict

OPENING_WORDS: Final = 3
FRESH_BELOW: Final = 0.3
TIRED_FROM: Final = 0.6
"""SEED_NOTES, Judge: fresh < 0.3 < moderate < 0.6 (tired above)."""
PERCENTILE_THRESHOLD: Final = 95.0
SHUFFLES: Final = 199
MIN_MESSAGES: Final = 9
"""Three thirds of at least three messages."""


def _repetition(codes: np.ndarray) -> np.ndarray:
    """Per row: 1 - distinct values / values."""
    ordered = np.sort(codes, axis=1)
    distinct = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    repetition: np.ndarray = 1.0 - distinct / codes.shape[1]
    return repetition


def fatigue_scores(codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per row (one order of the messages): the fatigue score in [0, 1].

    The mean of the opening repetition's rise (last third vs first) and the relative fall
    of length (least-squares slope), each in [0, 1].

    ``codes`` numbers the openings (equal openings, equal codes); rows are orders.
    """
    n = codes.shape[1]
    third = n // 3
    rise = np.maximum(0.0, _repetition(codes[:, -third:]) - _repetition(codes[:, :third]))
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2
    slope = (lengths - lengths.mean(axis=1, keepdims=True)) @ x / float(x @ x)
    mean = np.maximum(lengths.mean(axis=1), 1.0)
    fall = np.clip(-slope * n / mean, 0.0, 1.0)
    score: np.ndarray = 0.5 * rise + 0.5 * fall
    return score


def fatigue_score(openings: Sequence[str], lengths: np.ndarray) -> float:
    """The fatigue score of messages in the order given (see :func:`fatigue_scores`)."""
    numbering: dict[str, int] = {}
    codes = np.array([numbering.setdefault(o, len(numbering)) for o in openings])
    return float(fatigue_scores(codes[None, :], np.asarray(lengths, dtype=np.float64)[None, :])[0])


def band(score: float) -> Severity:
    """``none`` (fresh), ``mild`` (moderate fatigue) or ``moderate`` (tired)."""
    if score < FRESH_BELOW:
        return "none"
    return "mild" if score < TIRED_FROM else "moderate"


def judge_fatigue(agent_id: str, messages: Sequence[str]) -> Verdict:
    """The fatigue verdict of one agent's messages in order."""
    method = "opening repetition rise + length fall, order-shuffle baseline"
    n = len(messages)
    if n < MIN_MESSAGES:
        return Verdict(
            agent_id, "fatigue", "insufficient_data", 0.0, "none", method, TIRED_FROM, None, n,
            Explanation(f"{n} messages; at least {MIN_MESSAGES} are needed"),
        )  # fmt: skip
    openings = [" ".join(tokens(m)[:OPENING_WORDS]) for m in messages]
    numbering: dict[str, int] = {}
    codes = np.array([numbering.setdefault(o, len(numbering)) for o in openings])
    lengths = np.array([len(m) for m in messages], dtype=np.float64)
    observed = float(fatigue_scores(codes[None, :], lengths[None, :])[0])
    seed = int.from_bytes(hashlib.sha256(agent_id.encode()).digest()[:8], "big")
    orders = np.argsort(np.random.default_rng(seed).random((SHUFFLES, n)), axis=1)
    baseline = fatigue_scores(codes[orders], lengths[orders])
    percentile = 100.0 * float(np.mean(baseline < observed) + 0.5 * np.mean(baseline == observed))
    severity = band(observed)
    failed = observed >= TIRED_FROM and percentile >= PERCENTILE_THRESHOLD
    repeated = sorted({o for o in openings[-(n // 3) :] if openings.count(o) > 1})
    return Verdict(
        agent_id=agent_id,
        evaluation="fatigue",
        status="failed" if failed else "passed",
        score=round(observed, 6),
        severity=severity,
        method=method,
        threshold=TIRED_FROM,
        percentile=round(percentile, 3),
        messages=n,
        explanation=Explanation(
            summary=(
                f"fatigue {observed:.2f} ({'fresh' if severity == 'none' else severity}); "
                f"random orders of the same messages average {baseline.mean():.2f} "
                f"(percentile {percentile:.1f})"
            ),
            top_words=tuple(repeated[:5]),
            examples=tuple(messages[-3:]),
        ),
        details={"baseline_mean": round(float(baseline.mean()), 6)},
    )
