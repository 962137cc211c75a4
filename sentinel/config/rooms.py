"""The floor plan: rooms, their kinds and the doors between them (``config/rooms.toml``)."""

from __future__ import annotations

import math
from collections import deque
from enum import StrEnum
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)


class RoomKind(StrEnum):
    """What a room is for; the world's systems key their effects on it."""

    ENTRANCE = "entrance"
    CORRIDOR = "corridor"
    STAIRWELL = "stairwell"
    KITCHEN = "kitchen"
    OFFICE = "office"
    MEETING = "meeting"
    BATHROOM = "bathroom"
    SERVER = "server"
    LOUNGE = "lounge"
    SERVICE = "service"


ARRIVAL_KINDS: Final = (
    RoomKind.ENTRANCE, RoomKind.OFFICE, RoomKind.LOUNGE, RoomKind.MEETING, RoomKind.KITCHEN,
    RoomKind.CORRIDOR, RoomKind.SERVICE,
)  # fmt: skip
"""Where arriving agents may wait, in order of preference at equal distance from the
entrance (never in a bathroom, the server room or the stairwell)."""


class Room(BaseModel):
    """One room."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: Annotated[str, Field(min_length=1)]
    floor: Annotated[int, Field(ge=0, le=1)]
    kind: RoomKind
    capacity: Annotated[int, Field(ge=1)]
    has_window: bool = False
    ventilation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    """Mechanical ventilation, 0 (none) to 1 (the full ``physics.ventilation_per_hour``)."""


class FloorPlan(BaseModel):
    """All rooms and the doors (undirected edges) between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rooms: Annotated[list[Room], Field(min_length=1)]
    doors: list[tuple[str, str]]

    @field_validator("rooms")
    @classmethod
    def _unique(cls, rooms: list[Room]) -> list[Room]:
        ids = [room.id for room in rooms]
        duplicates = sorted({room for room in ids if ids.count(room) > 1})
        if duplicates:
            raise ValueError(f"duplicate room ids: {', '.join(duplicates)}")
        return rooms

    @field_validator("doors")
    @classmethod
    def _doors(cls, doors: list[tuple[str, str]], info: ValidationInfo) -> list[tuple[str, str]]:
        known = {room.id for room in info.data.get("rooms", [])}
        for index, (a, b) in enumerate(doors):
            for end in (a, b):
                if known and end not in known:
                    raise ValueError(f"doors[{index}] names unknown room {end!r}")
            if a == b:
                raise ValueError(f"doors[{index}] joins {a!r} to itself")
        return doors

    @model_validator(mode="after")
    def _connected(self) -> FloorPlan:
        start = self.rooms[0].id
        unreachable = sorted({room.id for room in self.rooms} - set(self.hops_from(start)))
        if unreachable:
            raise ValueError(
                f"the room graph is not connected: {', '.join(unreachable)} cannot be reached "
                f"from {start!r}; add a door"
            )
        return self

    def arrival_capacity(self) -> int:
        """Places in the rooms arriving agents may fill (:data:`ARRIVAL_KINDS`)."""
        return sum(room.capacity for room in self.rooms if room.kind in ARRIVAL_KINDS)

    def sized_for(self, people: int) -> tuple[FloorPlan, int]:
        """This layout, every room ``k`` times as large, so ``people`` find a place on arrival.

        ``k`` is the smallest whole factor with ``k * arrival_capacity() >= people`` (1 when
        they fit). Volume, ventilation and heat pull scale with capacity, so the air and
        heat per person stay as designed. Returns the plan and ``k``.
        """
        factor = max(1, math.ceil(people / max(1, self.arrival_capacity())))
        if factor == 1:
            return self, 1
        rooms = [
            room.model_copy(update={"capacity": room.capacity * factor}) for room in self.rooms
        ]
        return self.model_copy(update={"rooms": rooms}), factor

    def index(self) -> dict[str, int]:
        """Room id -> its position in :attr:`rooms` (the world's room number)."""
        return {room.id: position for position, room in enumerate(self.rooms)}

    def neighbours(self) -> dict[str, list[str]]:
        """Room id -> adjacent room ids, in the order of :attr:`rooms`."""
        order = self.index()
        adjacent: dict[str, set[str]] = {room.id: set() for room in self.rooms}
        for a, b in self.doors:
            adjacent[a].add(b)
            adjacent[b].add(a)
        return {room: sorted(others, key=order.__getitem__) for room, others in adjacent.items()}

    def hops_from(self, start: str) -> dict[str, int]:
        """Breadth-first hop counts from ``start`` to every reachable room."""
        adjacent: dict[str, set[str]] = {room.id: set() for room in self.rooms}
        for a, b in self.doors:
            if a in adjacent and b in adjacent:
                adjacent[a].add(b)
                adjacent[b].add(a)
        hops = {start: 0}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for there in sorted(adjacent[here]):
                if there not in hops:
                    hops[there] = hops[here] + 1
                    queue.append(there)
        return hops

    def route(self, start: str, goal: str) -> list[str]:
        """The shortest route (BFS, ties broken by room order) from ``start`` to ``goal``."""
        neighbours = self.neighbours()
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            if here == goal:
                break
            for there in neighbours[here]:
                if there not in previous:
                    previous[there] = here
                    queue.append(there)
        path = [goal]
        while (step := previous[path[-1]]) is not None:
            path.append(step)
        return path[::-1]
