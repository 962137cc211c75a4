"""Arrival delays and mood impulses, on every backend.

Checked without the world's parameter code: an agent held outside is in no room and no
head count until its delay has run; an impulse halves in the half-life the docs give
(20 minutes) and moves valence by its own size; the temperament term is
``0.3 * (extraversion - neuroticism)``. The numbers are written here.
"""

from __future__ import annotations

import pytest

from sentinel.config import Company
from sentinel.errors import InvalidInputError
from sentinel.world import World

BACKENDS = ("native", "reference", "oracle")
HALF_LIFE_TICKS = 20 * 60
"""The impulses' half-life, 20 minutes, at one second per tick."""
TEMPERAMENT_GAIN = 0.3


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_agent_held_outside_is_in_no_room_until_it_walks_in(
    company: Company, backend: str
) -> None:
    world = World(company, seed=5)
    world.delay_arrival("AGENT-01", 30)
    world.step(1, backend=backend)  # type: ignore[arg-type]
    index = world.agent_ids.index("AGENT-01")
    others = int(world.state["active"].sum())
    assert world.state["active"][index] == 0 and world.state["room"][index] == -1
    assert int(world.state["occupancy"].sum()) == others  # not counted anywhere
    world.step(29, backend=backend)  # type: ignore[arg-type]
    assert world.state["active"][index] == 0
    world.step(1, backend=backend)  # type: ignore[arg-type]
    assert world.state["active"][index] == 1 and world.state["room"][index] >= 0
    assert int(world.state["occupancy"].sum()) == others + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_impulse_halves_in_twenty_minutes(company: Company, backend: str) -> None:
    world = World(company, seed=5)
    world.step(1, backend=backend)  # type: ignore[arg-type]
    index = world.agent_ids.index("AGENT-01")
    world.feel("AGENT-01", 0.4, 0.2)
    world.step(HALF_LIFE_TICKS, backend=backend)  # type: ignore[arg-type]
    assert world.state["valence_impulse"][index] == pytest.approx(0.2, rel=1e-9)
    assert world.state["arousal_impulse"][index] == pytest.approx(0.1, rel=1e-9)


def test_an_impulse_moves_valence_by_its_size_and_temperament_shifts_it(
    company: Company,
) -> None:
    worlds = [World(company, seed=5) for _ in range(3)]
    for world in worlds:
        world.step(1)
    index = worlds[0].agent_ids.index("AGENT-01")
    s = worlds[0].state
    temperament = float(s["extraversion"][index] - s["neuroticism"][index])
    worlds[1].feel("AGENT-01", -0.25)
    worlds[2].state["extraversion"][index] = worlds[2].state["neuroticism"][index]
    for world in worlds:
        world.step(1)
    base, felt, neutral = (float(w.state["valence"][index]) for w in worlds)
    assert min(base, felt, neutral) > -1.0 and max(base, felt, neutral) < 1.0  # unclamped
    assert felt - base == pytest.approx(-0.25, abs=1e-12)
    assert base - neutral == pytest.approx(TEMPERAMENT_GAIN * temperament, abs=1e-12)


def test_bad_inputs_are_refused(company: Company) -> None:
    world = World(company)
    with pytest.raises(InvalidInputError):
        world.delay_arrival("AGENT-01", -1)
    with pytest.raises(InvalidInputError):
        world.feel("AGENT-01", float("nan"))
    with pytest.raises(InvalidInputError):
        world.feel("NOBODY", 0.1)
    world.feel("AGENT-01", 5.0, -5.0)  # kept within -1..1
    assert world.state["valence_impulse"][0] == 1.0
    assert world.state["arousal_impulse"][0] == -1.0
