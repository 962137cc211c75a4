"""Doors: closed for a meeting or against a loud hall, opened when quiet; the world hears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.agents.days import OfficeDays
from sentinel.agents.doors import SETTLE_TICKS, Doors
from sentinel.audit import NewEvent
from sentinel.config import load_company
from sentinel.errors import InvalidInputError
from sentinel.world import World

CONFIG = Path(__file__).resolve().parents[2] / "config"
COMPANY = load_company(CONFIG)


def _number(world: World, room: str) -> int:
    return world.params.room_ids.index(room)


def _db(value: float) -> float:
    return float(10.0 ** (value / 10.0))


def test_a_loud_hall_closes_the_door_and_a_quiet_one_opens_it() -> None:
    world = World(COMPANY, seed=3)
    doors = Doors(world)
    room, number = "g-office-sales", _number(world, "g-office-sales")
    hall = _number(world, "g-corridor")
    world.state["noise"][:] = _db(30.0)
    world.state["noise"][hall] = _db(60.0)
    assert doors.adjust(room, number, tick=100) == "close_door"
    assert world.state["door_closed"][number] == 1
    world.state["noise"][hall] = _db(40.0)
    assert doors.adjust(room, number, tick=100 + SETTLE_TICKS - 1) is None  # settling
    assert doors.adjust(room, number, tick=100 + SETTLE_TICKS) == "open_door"
    assert world.state["door_closed"][number] == 0
    # between the two levels nothing moves (hysteresis)
    world.state["noise"][hall] = _db(52.0)
    assert doors.adjust(room, number, tick=100 + 3 * SETTLE_TICKS) is None


def test_a_meeting_closes_its_rooms_door_and_corridors_have_none() -> None:
    world = World(COMPANY, seed=3)
    doors = Doors(world)
    meeting = _number(world, "g-meeting-small")
    world.state["noise"][:] = _db(30.0)
    world.state["occupancy"][meeting] = 3
    assert doors.adjust("g-meeting-small", meeting, tick=0) == "close_door"
    world.state["occupancy"][meeting] = 0
    assert doors.adjust("g-meeting-small", meeting, tick=SETTLE_TICKS) == "open_door"
    hall = _number(world, "g-corridor")
    world.state["noise"][:] = _db(70.0)
    assert doors.adjust("g-corridor", hall, tick=0) is None
    assert world.state["door_closed"][hall] == 0
    with pytest.raises(InvalidInputError, match="unknown room"):
        world.open_door("nowhere")


def test_the_too_loud_rule_closes_the_door_once_headphones_are_on() -> None:
    world = World(COMPANY, seed=3)
    days = OfficeDays(COMPANY, world, 3)
    agent = world.agent_ids[0]
    world.delay_arrival(agent, 0)  # walks in at once (the planner staggers arrivals)
    world.step(1)
    days.start(agent, 1)
    world.move(agent, "g-office-product")
    world.step(200)
    number = _number(world, "g-office-product")
    assert world.state["room"][world.agent_ids.index(agent)] == number
    events: list[NewEvent] = []
    days.plans[agent].headphones = True
    assert days.apply(agent, "headphones", 300, events)
    assert world.state["door_closed"][number] == 1
    assert [e.payload["action"] for e in events] == ["close_door"]
    assert not days.apply(agent, "door", 301, events)  # closed already


def test_a_closed_door_makes_the_office_quieter_in_the_running_world() -> None:
    heard = []
    for closed in (False, True):
        world = World(COMPANY, seed=3)
        world.step(3600)  # the morning shift is in
        world.open_door("g-office-engineering", is_open=not closed)
        world.step(1)
        heard.append(float(world.state["noise"][_number(world, "g-office-engineering")]))
    assert heard[1] <= heard[0]
