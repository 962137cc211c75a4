"""Persona drift: do an agent's messages still sound like its persona's reference?

The statistic is the mean distance of each message to its nearest reference message (1 -
cosine similarity of sentence vectors). Nearest neighbour rather than centroid: a persona
speaks in several registers (a reply, a complaint, a status line), and a run may use them
in other proportions than the reference does without having drifted. The random baseline is
a permutation test: pool reference and messages, split them at random into a reference and a
message set of the same sizes, and recompute; the verdict reports the observed statistic's
percentile among those splits. Drift is declared when the percentile reaches the threshold
(the messages are further from the reference than random splits of the same texts almost
never are) and the estimated share of off-persona messages is at least "mild".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from sentinel.judge.explain import top_words
from sentinel.judge.verdict import Explanation, Verdict, severity_of

PERMUTATIONS: Final = 199
"""Ours: 199 random splits; a percentile of 99.5 is then beaten by at most one split."""
PERCENTILE_THRESHOLD: Final = 99.0
"""Ours: drift needs the statistic above 99 % of random splits (false alarms ~1 % a test)."""
OFF_QUANTILE: Final = 0.95
"""A message is off-persona when it is further from the reference than 95 % of the
reference's own messages are from their nearest other reference message."""
MIN_MESSAGES: Final = 8
"""Ours: fewer messages than this give no verdict (``insufficient_data``)."""
MAX_MESSAGES: Final = 400
"""Ours: at most this many messages (evenly spaced over the run) are judged per agent;
it bounds the cost of the test (runs of a day stay well under it)."""
EXAMPLES: Final = 3
DISTANCE_DECIMALS: Final = 6
"""Distances are compared at 1e-6: below that they are float32 rounding, not language."""


@dataclass(frozen=True)
class DriftInput:
    """One agent's messages and its persona's reference, as texts and unit vectors."""

    agent_id: str
    messages: Sequence[str]
    reference: Sequence[str]
    message_vectors: np.ndarray
    reference_vectors: np.ndarray


def _seed(agent_id: str) -> int:
    return int.from_bytes(hashlib.sha256(agent_id.encode()).digest()[:8], "big")


def _spaced(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, num=min(count, limit)).round().astype(int))


def nearest_distance(similarity: np.ndarray) -> np.ndarray:
    """Per row: 1 - the largest similarity (distance to the nearest column).

    Rounded to :data:`DISTANCE_DECIMALS` and clipped at 0: float32 products of equal unit
    vectors come out a hair above 1, and such noise must not decide a permutation test.
    """
    distance: np.ndarray = np.round(
        np.maximum(1.0 - similarity.max(axis=1), 0.0), DISTANCE_DECIMALS
    )
    return distance


def permutation_percentile(
    pool: np.ndarray, reference_size: int, observed: float, permutations: int, seed: int
) -> tuple[float, float]:
    """Percentile of ``observed`` among random splits of ``pool``, and the splits' mean.

    ``pool`` holds the reference rows first; each split draws ``reference_size`` rows as
    the reference and keeps the rest as messages.
    """
    similarity = pool @ pool.T
    size = len(pool)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, size)), axis=1)
    ref_idx, msg_idx = order[:, :reference_size], order[:, reference_size:]
    block = similarity[msg_idx[:, :, None], ref_idx[:, None, :]]
    null = np.round(
        np.round(np.maximum(1.0 - block.max(axis=2), 0.0), DISTANCE_DECIMALS).mean(axis=1),
        DISTANCE_DECIMALS,
    )
    observed = round(observed, DISTANCE_DECIMALS)
    below = float(np.count_nonzero(null < observed)) + 0.5 * float(
        np.count_nonzero(null == observed)
    )
    return 100.0 * below / permutations, float(null.mean())


def off_threshold(reference: np.ndarray) -> float:
    """The distance beyond which a message is off-persona (leave-one-out in the reference)."""
    if len(reference) < 2:
        return 0.0
    similarity = reference @ reference.T
    np.fill_diagonal(similarity, -np.inf)
    return float(np.quantile(nearest_distance(similarity), OFF_QUANTILE))


def judge_drift(
    item: DriftInput,
    method: str,
    others: Mapping[str, np.ndarray] | None = None,
    *,
    permutations: int = PERMUTATIONS,
) -> Verdict:
    """The drift verdict of one agent.

    Args:
        item: Messages and reference with their vectors.
        method: The vectorizer's name, recorded in the verdict.
        others: Other personas' reference centroids by agent id, to say whom the drifted
            messages resemble (optional).
        permutations: Random splits for the baseline.
    """
    n = len(item.messages)
    full_method = f"nearest-reference distance on {method}, permutation test"
    if n < MIN_MESSAGES or len(item.reference) < 2:
        return Verdict(
            agent_id=item.agent_id,
            evaluation="drift",
            status="insufficient_data",
            score=0.0,
            severity="none",
            method=full_method,
            threshold=PERCENTILE_THRESHOLD,
            percentile=None,
            messages=n,
            explanation=Explanation(f"{n} messages; at least {MIN_MESSAGES} are needed"),
        )
    keep = _spaced(n, MAX_MESSAGES)
    messages = [item.messages[i] for i in keep]
    vectors = item.message_vectors[keep]
    reference = item.reference_vectors
    distances = nearest_distance(vectors @ reference.T)
    observed = float(distances.mean())
    pool = np.vstack([reference, vectors])
    percentile, baseline = permutation_percentile(
        pool, len(reference), observed, permutations, _seed(item.agent_id)
    )
    cut = off_threshold(reference)
    off = distances > cut + 1e-6
    share = max(0.0, (float(off.mean()) - (1 - OFF_QUANTILE)) / OFF_QUANTILE)
    severity = severity_of(share)
    failed = percentile >= PERCENTILE_THRESHOLD and severity != "none"
    worst = np.argsort(-distances, kind="stable")[:EXAMPLES]
    toward = None
    if others and off.any():
        centroid = vectors[off].mean(axis=0)
        names = sorted(others)
        scores = [float(centroid @ others[name]) for name in names]
        toward = names[int(np.argmax(scores))]
    off_messages = [messages[i] for i in np.flatnonzero(off)]
    summary = (
        f"{off.sum()} of {len(messages)} messages off-persona (estimated share {share:.2f}); "
        f"mean nearest-reference distance {observed:.3f} vs {baseline:.3f} for random splits "
        f"(percentile {percentile:.1f}, threshold {PERCENTILE_THRESHOLD:g})"
    )
    if toward:
        summary += f"; the off-persona messages resemble {toward}"
    return Verdict(
        agent_id=item.agent_id,
        evaluation="drift",
        status="failed" if failed else "passed",
        score=round(share, 6),
        severity=severity,
        method=full_method,
        threshold=PERCENTILE_THRESHOLD,
        percentile=round(percentile, 3),
        messages=len(messages),
        explanation=Explanation(
            summary=summary,
            top_words=top_words(off_messages or messages, item.reference),
            examples=tuple(messages[i][:160] for i in worst),
            toward=toward,
        ),
        details={
            "statistic": round(observed, 6),
            "baseline_mean": round(baseline, 6),
            "off_threshold": round(cut, 6),
            "off_messages": float(off.sum()),
            "reference_size": float(len(reference)),
        },
    )
