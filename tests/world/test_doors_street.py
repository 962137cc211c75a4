"""Doors and street noise, checked without ``build_params``: the power sums in the test.

Noise is a sum of powers (``10 ** (dB / 10)``) each tick, no dynamics: a room hears its
own sources, plus what an open window lets in from the street, plus its neighbours' own
sources attenuated by the wall and doorway (``leak_attenuation_db``) and, where a door on
that edge is closed, by the door too. The test recomputes these levels from the config's
decibels with its own arithmetic and compares them with the world's (all three backends).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.config import Company
from sentinel.world import BACKENDS, Backend, World
from tests.world.test_physics_bounds import _hold, _without_chaos

TALKERS = 12
"""People talking in the corridor next to the office under test."""
OFFICE = "g-office-engineering"
"""A ground-floor office with a window whose only neighbour is the corridor."""
UPPER = "u-office-design"
HALL = "g-corridor"


def _power(db: float) -> float:
    return float(10.0 ** (db / 10.0))


def _at_hour(world: World, company: Company, hour: int) -> None:
    """Set the world's clock to the start of ``hour`` (one tick is a minute)."""
    sim = company.simulation
    minutes = ((hour - sim.start_hour) % 24) * 60
    world.state["tick"][0] = round(minutes * 60 / sim.time_scale)


def _noise(world: World, room: str) -> float:
    return float(world.state["noise"][world.floor_plan.index()[room]])


def _world(company: Company, people: int) -> World:
    world = World(company, agents=people + 1)
    _hold(world, list(range(people)), HALL)
    _at_hour(world, company, 10)
    return world


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_closed_door_damps_a_loud_hall_by_the_door_s_attenuation(
    minute_company: Company, backend: Backend
) -> None:
    company = _without_chaos(minute_company)
    phys = company.simulation.physics
    hall_own = _power(phys.ambient_db) + TALKERS * _power(phys.speaker_db)
    ambient = _power(phys.ambient_db)
    heard = {}
    for closed in (False, True):
        world = _world(company, TALKERS)
        world.open_door(OFFICE, is_open=not closed)
        world.step(1, backend=backend)
        heard[closed] = _noise(world, OFFICE)
    wall = _power(-phys.leak_attenuation_db)
    door = _power(-phys.door_closed_attenuation_db)
    assert heard[False] == pytest.approx(ambient + wall * hall_own, rel=1e-12)
    assert heard[True] == pytest.approx(ambient + wall * door * hall_own, rel=1e-12)
    # what the hall adds falls by exactly the door's attenuation
    assert (heard[True] - ambient) / (heard[False] - ambient) == pytest.approx(door, rel=1e-9)
    assert heard[True] < heard[False]


def test_corridors_have_no_door_to_close(minute_company: Company) -> None:
    company = _without_chaos(minute_company)
    world = _world(company, TALKERS)
    before = world.state["door_closed"].copy()
    assert world.open_door(HALL, is_open=False) is False
    assert world.open_door("stairwell", is_open=False) is False
    np.testing.assert_array_equal(world.state["door_closed"], before)
    assert world.open_door(OFFICE, is_open=False) is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_open_window_lets_the_street_into_an_empty_room(
    minute_company: Company, backend: Backend
) -> None:
    company = _without_chaos(minute_company)
    phys = company.simulation.physics
    ambient = _power(phys.ambient_db)
    wall = _power(-phys.leak_attenuation_db)
    cases = (  # room, floor, hour, night?
        (OFFICE, 0, 10, False),
        (UPPER, 1, 10, False),
        (OFFICE, 0, 23, True),
    )
    for room, floor, hour, night in cases:
        heard = {}
        for is_open in (False, True):
            world = World(company, agents=1)
            _hold(world, [], HALL)
            _at_hour(world, company, hour)
            world.open_window(room, is_open)
            world.step(1, backend=backend)
            heard[is_open] = _noise(world, room)
        street_db = (
            phys.street_db
            - floor * phys.street_floor_drop_db
            - (phys.street_night_drop_db if night else 0.0)
            - phys.window_open_attenuation_db
        )
        neighbours = len(world.floor_plan.neighbours()[room])
        closed = ambient + wall * neighbours * ambient
        assert heard[False] == pytest.approx(closed, rel=1e-12), room
        assert heard[True] == pytest.approx(closed + _power(street_db), rel=1e-12), room
        assert heard[True] > heard[False]


def test_a_room_without_a_window_hears_no_street(minute_company: Company) -> None:
    company = _without_chaos(minute_company)
    heard = []
    for is_open in (False, True):
        world = World(company, agents=1)
        _hold(world, [], HALL)
        world.open_window("g-server", is_open)
        world.step(1)
        heard.append(_noise(world, "g-server"))
    assert heard[0] == heard[1]


def test_the_street_is_quieter_upstairs_and_at_night(minute_company: Company) -> None:
    """Monotonicity of the outdoor term alone (window open minus closed)."""
    company = _without_chaos(minute_company)

    def street(room: str, hour: int) -> float:
        levels = []
        for is_open in (False, True):
            world = World(company, agents=1)
            _hold(world, [], HALL)
            _at_hour(world, company, hour)
            world.open_window(room, is_open)
            world.step(1)
            levels.append(_noise(world, room))
        return levels[1] - levels[0]

    assert street(OFFICE, 10) > street(UPPER, 10) > 0.0
    assert street(OFFICE, 10) > street(OFFICE, 2) > 0.0


def test_a_louder_street_never_makes_a_room_quieter(minute_company: Company) -> None:
    company = _without_chaos(minute_company)
    previous = 0.0
    for street_db in (40.0, 55.0, 70.0, 85.0):
        phys = company.simulation.physics.model_copy(update={"street_db": street_db})
        sim = company.simulation.model_copy(update={"physics": phys})
        world = World(dataclasses.replace(company, simulation=sim), agents=1)
        _hold(world, [], HALL)
        world.open_window(OFFICE)
        world.step(1)
        now = _noise(world, OFFICE)
        assert now >= previous
        assert 10.0 * np.log10(now) <= phys.noise_cap_db + 1e-9
        previous = now


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    hour=st.integers(0, 23),
    data=st.data(),
)
def test_closing_a_door_or_shutting_a_window_never_makes_any_room_louder(
    minute_company: Company, seed: int, hour: int, data: st.DataObject
) -> None:
    """Monotonicity over random head counts, doors, windows and chaos (native backend)."""
    world = World(minute_company, agents=60, seed=seed)
    rooms = len(world.params.room_ids)
    rng = np.random.default_rng(seed)
    s = world.state
    s["shift_set"][:] = 0
    s["active"][:] = 1
    s["room"][:] = rng.integers(0, rooms, len(world.agent_ids))
    s["window_open"][:] = rng.integers(0, 2, rooms)
    s["door_closed"][:] = rng.integers(0, 2, rooms)
    _at_hour(world, minute_company, hour)
    room = data.draw(st.integers(0, rooms - 1), label="room")
    quieter = {name: array.copy() for name, array in s.items()}
    quieter["door_closed"][room] = 1
    quieter["window_open"][room] = 0
    louder = {name: array.copy() for name, array in s.items()}
    louder["door_closed"][room] = 0
    louder["window_open"][room] = 1
    levels = []
    for state in (quieter, louder):
        world.state.update({name: array.copy() for name, array in state.items()})
        world.step(1)
        levels.append(world.state["noise"].copy())
    assert np.all(levels[0] <= levels[1])
