"""The thermostat: a dial that changes the world, turned by agents when the window cannot help."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.agents.days import OfficeDays
from sentinel.agents.thermostat import SETTLE_TICKS, STEP_K, TOO_COOL_C, Thermostats
from sentinel.audit import NewEvent
from sentinel.config import load_company
from sentinel.errors import InvalidInputError
from sentinel.world import World
from sentinel.world.world import THERMOSTAT_RANGE_K

CONFIG = Path(__file__).resolve().parents[2] / "config"
COMPANY = load_company(CONFIG)


def _settled(offset: float, room: str, ticks: int = 4 * 3600) -> float:
    world = World(COMPANY, seed=3)
    world.set_thermostat(room, offset)
    world.step(ticks)
    return float(world.state["temperature"][world.params.room_ids.index(room)])


def test_the_dial_shifts_an_empty_rooms_steady_temperature_by_its_offset() -> None:
    # Nobody on duty before 06:00 plus spawn: an empty room relaxes to setpoint + offset.
    for room in ("g-server", "u-bathroom-a"):  # no windows: no sun term
        base = _settled(0.0, room)
        for offset in (-3.0, -1.0, 2.0):
            assert _settled(offset, room) - base == pytest.approx(offset, abs=0.05)


def test_the_dial_is_clamped_and_checked() -> None:
    world = World(COMPANY, seed=3)
    assert world.set_thermostat("g-kitchen", -99.0) == -THERMOSTAT_RANGE_K
    assert world.set_thermostat("g-kitchen", 99.0) == THERMOSTAT_RANGE_K
    with pytest.raises(InvalidInputError, match="unknown room"):
        world.set_thermostat("nowhere", 1.0)
    with pytest.raises(InvalidInputError, match="finite"):
        world.set_thermostat("g-kitchen", float("nan"))


def test_a_warm_windowless_room_is_turned_down_then_back_up_when_cool() -> None:
    world = World(COMPANY, seed=3)
    dials = Thermostats(world)
    room = "g-copy"  # no window
    number = world.params.room_ids.index(room)
    world.state["temperature"][number] = 28.0
    assert dials.adjust(room, number, has_window=False, tick=100) == "thermostat_down"
    assert world.state["thermostat"][number] == -STEP_K
    assert dials.adjust(room, number, has_window=False, tick=100 + SETTLE_TICKS - 1) is None
    assert dials.adjust(room, number, has_window=False, tick=100 + SETTLE_TICKS) == (
        "thermostat_down"
    )
    world.state["temperature"][number] = TOO_COOL_C - 1.0
    tick = 100 + 2 * SETTLE_TICKS
    assert dials.adjust(room, number, has_window=False, tick=tick) == "thermostat_up"
    assert world.state["thermostat"][number] == -STEP_K
    # A warm room whose window is shut: the window is the remedy, not the dial.
    windowed = next(r.id for r in world.floor_plan.rooms if r.has_window)
    other = world.params.room_ids.index(windowed)
    world.state["temperature"][other] = 28.0
    assert dials.adjust(windowed, other, has_window=True, tick=tick) is None


def test_the_too_warm_rule_turns_the_dial_where_there_is_no_window() -> None:
    world = World(COMPANY, seed=3)
    days = OfficeDays(COMPANY, world, 3)
    agent = world.agent_ids[0]
    world.delay_arrival(agent, 0)  # walks in at once (the planner staggers arrivals)
    world.step(1)
    days.start(agent, 1)
    world.move(agent, "g-copy")
    world.step(200)
    number = world.params.room_ids.index("g-copy")
    world.state["temperature"][number] = 29.0
    events: list[NewEvent] = []
    assert days.apply(agent, "window", 300, events)  # the rule's target: no window here
    assert world.state["thermostat"][number] == -STEP_K
    assert [e.payload["action"] for e in events] == ["thermostat_down"]
    world.step(1800)
    assert float(world.state["temperature"][number]) < 29.0
