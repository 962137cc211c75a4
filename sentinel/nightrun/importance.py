"""How much an episode matters: the reference's importance, with its mistakes fixed.

The reference scored ``relevance x emotion x repetitions / (1 + hours ago)`` and kept the
top 10 above 0.25 (SEED_NOTES, Nightrun). As written that cannot work:

* **Repetitions were a raw count.** Five walks to the kitchen outscored a sandbox
  violation seen once, and any product above 1 made the 0.25 threshold meaningless. Ours
  saturates: ``min(1, log(1 + r) / log(1 + 4))`` (one occurrence 0.43, four or more 1).
* **Emotion was a signed valence.** A product with a negative factor ranks a bad day's
  episodes below neutral ones, so the worst experiences were never remembered. Ours uses
  intensity, not sign: ``0.5 + 0.5 x max(|valence|, arousal)`` in [0.5, 1] (every episode
  weighs something; a strong feeling up to twice as much).
* **Recency fell as 1 / (1 + hours)** in wall-clock hours since the night job ran: after two
  hours an episode kept a third of its weight, so everything but a shift's last hour fell
  below 0.25, and the score depended on when the job happened to run. Ours counts
  simulated hours from the episode's last occurrence to the end of the agent's own day and
  halves the weight every 8 hours (a shift): ``0.5 ** (hours / 8)``.

Every factor is in [0, 1], so the product is too, and the threshold means what it says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sentinel.nightrun.episodes import RELEVANCE, Episode

THRESHOLD: Final = 0.25
TOP: Final = 10
"""SEED_NOTES, Nightrun: consolidate the top 10 above 0.25."""
REPETITIONS_SATURATE: Final = 4
"""Ours: four occurrences make an episode fully repeated."""
HALF_LIFE_HOURS: Final = 8.0
"""Ours: an episode's weight halves every simulated shift (8 hours)."""


@dataclass(frozen=True)
class Scored:
    """An episode with its factors and score (each in [0, 1])."""

    episode: Episode
    relevance: float
    emotion: float
    repetition: float
    recency: float
    hours_ago: float

    @property
    def score(self) -> float:
        """The product of the four factors."""
        return self.relevance * self.emotion * self.repetition * self.recency


def score(episode: Episode, end_tick: int, seconds_per_tick: float) -> Scored:
    """The factors of ``episode``, whose agent's day ended at ``end_tick``."""
    hours = max(0.0, (end_tick - episode.last_tick) * seconds_per_tick / 3600)
    return Scored(
        episode=episode,
        relevance=RELEVANCE.get(episode.kind, 0.5),
        emotion=0.5 + 0.5 * min(1.0, max(abs(episode.valence), episode.arousal)),
        repetition=min(1.0, math.log1p(episode.repetitions) / math.log1p(REPETITIONS_SATURATE)),
        recency=0.5 ** (hours / HALF_LIFE_HOURS),
        hours_ago=hours,
    )


def select(scored: list[Scored]) -> list[Scored]:
    """The top :data:`TOP` at or above :data:`THRESHOLD`, best first (ties by key)."""
    kept = [s for s in scored if s.score >= THRESHOLD]
    kept.sort(key=lambda s: (-round(s.score, 12), s.episode.key))
    return kept[:TOP]
