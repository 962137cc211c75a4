"""Room doors: closed against a loud hall or for a meeting, opened again when it is quiet.

A persona in a room with a door (not a corridor or the stairwell) closes it when a meeting
is in session there (two or more people in a meeting room: they want to focus) or when
the loudest room next door is above :data:`HALL_LOUD_DB`; someone in the room opens it
again when neither holds and the rooms next door are below :data:`HALL_QUIET_DB`. The
world applies the door to the noise leaking between the room and its neighbours
(``World.open_door``). A door touched is left alone for :data:`SETTLE_TICKS`, so people
do not swing it at every passing voice.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sentinel.world import World

HALL_LOUD_DB: Final = 55.0
"""Ours: a conversation next door (57 dB a talker, minus the wall) reaches a room at about
this level with the door open; above it, people close the door."""
HALL_QUIET_DB: Final = 50.0
"""Ours: below this next door the door is opened again (5 dB of hysteresis against
flapping, as the headphones' 61/55 dB)."""
SETTLE_TICKS: Final = 15 * 60
"""Ours: a door closed or opened stays so at least 15 minutes."""


class Doors:
    """The doors of a running world's rooms and when each was last moved."""

    def __init__(self, world: World) -> None:
        self.world = world
        plan = world.floor_plan
        order = plan.index()
        self.next_door = [
            np.array([order[other] for other in others], dtype=np.intp)
            for others in (plan.neighbours()[room.id] for room in plan.rooms)
        ]
        self.has_door = world.params.tables["room_door"].astype(bool)
        self.meeting_room = np.array([str(room.kind) == "meeting" for room in plan.rooms])
        self.moved = np.full(len(plan.rooms), -SETTLE_TICKS, dtype=np.int64)

    def _loudest_next_door_db(self, number: int) -> float:
        noise = self.world.state["noise"][self.next_door[number]]
        return float(10.0 * np.log10(max(float(noise.max(initial=0.0)), 1e-12)))

    def _meeting(self, number: int) -> bool:
        return bool(self.meeting_room[number] and self.world.state["occupancy"][number] >= 2)

    def adjust(self, room: str, number: int, tick: int) -> str | None:
        """Close or open the door of ``room`` if the room asks for it; the action, or None."""
        if not self.has_door[number] or tick - int(self.moved[number]) < SETTLE_TICKS:
            return None
        closed = bool(self.world.state["door_closed"][number])
        hall = self._loudest_next_door_db(number)
        if not closed and (self._meeting(number) or hall > HALL_LOUD_DB):
            return self._move(room, number, tick, close=True)
        if closed and not self._meeting(number) and hall < HALL_QUIET_DB:
            return self._move(room, number, tick, close=False)
        return None

    def close_against_noise(self, room: str, number: int, tick: int) -> str | None:
        """An answer asked for quiet: close the room's door if it has one and it is open."""
        if not self.has_door[number] or self.world.state["door_closed"][number]:
            return None
        return self._move(room, number, tick, close=True)

    def _move(self, room: str, number: int, tick: int, *, close: bool) -> str:
        self.world.open_door(room, is_open=not close)
        self.moved[number] = tick
        return "close_door" if close else "open_door"
