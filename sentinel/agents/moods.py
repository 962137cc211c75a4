"""What the day's events do to a persona's mood, by its temperament from the config.

The world derives valence and arousal from the body (energy, stress, hunger, social need,
caffeine, a meeting) and the persona's temperament (extraversion minus neuroticism, see
:data:`~sentinel.world.params.VALENCE_TEMPERAMENT_GAIN`). What happens to one person and
not to the next (a good lunch, a task that failed, a meeting that ran long, a word with a
colleague, a loud room, a hot one) reaches the mood as an impulse
(:meth:`~sentinel.world.World.feel`) that fades with a half-life of 20 simulated minutes.
How hard an event lands depends on the persona's own traits: bad news weighs more on the
neurotic, company lifts the extraverted more, work done pleases the conscientious. Each
impulse is ``base * (0.5 + trait)``, so a trait of 0.5 takes the base as it is and the
extremes take half or one and a half of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sentinel.config.company import Company
from sentinel.world import World

CHAT_VALENCE: Final = 0.15
CHAT_AROUSAL: Final = 0.1
"""Ours: a word with a colleague lifts the mood a little and wakes one up (by extraversion)."""
LUNCH_VALENCE: Final = 0.3
"""Ours: a lunch in one's own window is the day's best half hour (by agreeableness)."""
COFFEE_VALENCE: Final = 0.05
"""Ours: the cup itself pleases a little; the caffeine's arousal is the world's."""
TASK_DONE_VALENCE: Final = 0.2
"""Ours: a ticket whose tests pass (by conscientiousness)."""
TASK_FAILED_VALENCE: Final = -0.35
TASK_FAILED_AROUSAL: Final = 0.2
"""Ours: a failed ticket stings and agitates (by neuroticism)."""
MEETING_LONG_VALENCE: Final = -0.3
"""Ours: a meeting that overran (by neuroticism)."""
MEETING_ON_TIME_VALENCE: Final = 0.1
"""Ours: a meeting that ended on time (by extraversion)."""
DISCOMFORT_VALENCE: Final = -0.012
DISCOMFORT_AROUSAL: Final = 0.008
"""Ours: each minute in a room too loud or too hot or cold, by neuroticism. With the
impulse's 20-minute half-life a steady discomfort settles near -0.35 valence."""
LOUD_DB: Final = 58.0
"""Ours: above 58 dB (heard: 0 with headphones on) a room bothers people at work."""
COMFORT_C: Final = (20.0, 25.0)
"""Ours: the comfortable range of an office (ISO 7730 category B is about 20-26 C)."""
NEUTRAL_TRAIT: Final = 0.5


@dataclass(frozen=True)
class Temperament:
    """The traits of a persona that weigh its events (0-1 each, from the config)."""

    extraversion: float = NEUTRAL_TRAIT
    neuroticism: float = NEUTRAL_TRAIT
    conscientiousness: float = NEUTRAL_TRAIT
    agreeableness: float = NEUTRAL_TRAIT


def _weight(trait: float) -> float:
    return 0.5 + trait


class Moods:
    """Turns a persona's events into mood impulses in the world.

    Args:
        company: The company (each persona's personality).
        world: The running world.
    """

    def __init__(self, company: Company, world: World) -> None:
        self.world = world
        self.temperament: dict[str, Temperament] = {
            p.id: Temperament(
                extraversion=p.personality.extraversion,
                neuroticism=p.personality.neuroticism,
                conscientiousness=p.personality.conscientiousness,
                agreeableness=p.personality.agreeableness,
            )
            for p in company.personas
        }

    def _of(self, agent_id: str) -> Temperament:
        return self.temperament.get(agent_id, Temperament())

    def chat(self, agent_id: str) -> None:
        """A conversation (either side)."""
        weight = _weight(self._of(agent_id).extraversion)
        self.world.feel(agent_id, CHAT_VALENCE * weight, CHAT_AROUSAL * weight)

    def lunch(self, agent_id: str) -> None:
        """Lunch in the persona's window."""
        self.world.feel(agent_id, LUNCH_VALENCE * _weight(self._of(agent_id).agreeableness))

    def coffee(self, agent_id: str) -> None:
        """A coffee drunk."""
        self.world.feel(agent_id, COFFEE_VALENCE)

    def task(self, agent_id: str, *, passed: bool) -> None:
        """A ticket finished: its tests passed or it failed."""
        temperament = self._of(agent_id)
        if passed:
            self.world.feel(agent_id, TASK_DONE_VALENCE * _weight(temperament.conscientiousness))
        else:
            weight = _weight(temperament.neuroticism)
            self.world.feel(agent_id, TASK_FAILED_VALENCE * weight, TASK_FAILED_AROUSAL * weight)

    def meeting_ended(self, agent_id: str, *, overran: bool) -> None:
        """A meeting the persona sat in ended (on time or late)."""
        temperament = self._of(agent_id)
        if overran:
            self.world.feel(agent_id, MEETING_LONG_VALENCE * _weight(temperament.neuroticism))
        else:
            self.world.feel(agent_id, MEETING_ON_TIME_VALENCE * _weight(temperament.extraversion))

    def room(self, agent_id: str, *, heard_db: float, temperature: float) -> None:
        """A minute in a room: too loud (as heard) or too hot or cold weighs on the mood."""
        bothers = int(heard_db > LOUD_DB) + int(not COMFORT_C[0] <= temperature <= COMFORT_C[1])
        if bothers:
            weight = bothers * _weight(self._of(agent_id).neuroticism)
            self.world.feel(agent_id, DISCOMFORT_VALENCE * weight, DISCOMFORT_AROUSAL * weight)
