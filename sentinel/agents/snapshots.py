"""World snapshots recorded with a run: what a notebook plots, inside the hash chain.

Every :data:`SNAPSHOT_EVERY_MINUTES` simulated minutes (and at the first tick) the runtime
appends one ``world.snapshot`` event to the ``world`` stream of the audit store: each room's
head count, temperature, CO2 and noise, and each on-duty agent's room, needs and mood, as
columns. The snapshots are ordinary events, so they are hash-chained, signed by the
checkpoints and covered by ``sentinel-run audit verify``; replay reads only the ``runtime``
stream and never asks for them.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sentinel.audit import NewEvent
from sentinel.audit.event_types import WorldSnapshot
from sentinel.world import World

WORLD_STREAM: Final = "world"
SNAPSHOT_EVERY_MINUTES: Final = 10
"""Simulated minutes between snapshots: an 8-hour shift gives 49 points per series, enough
for a smooth plot; with 26 agents on duty a snapshot is ~3.3 kB of canonical JSON, so a
shift adds ~170 kB to the store (measured: a one-hour run, 7 snapshots, 23 kB)."""
DIGITS: Final = 3
"""Decimals kept per value: well below the physics' and the needs' meaningful resolution."""
AGENT_COLUMNS: Final = (
    "room",
    "hunger",
    "energy",
    "bladder",
    "stress",
    "social",
    "caffeine_mg",
    "valence",
    "arousal",
    "emotion",
)
ROOM_COLUMNS: Final = ("room", "occupancy", "temperature", "co2_ppm", "noise_db")


def snapshot_every_ticks(time_scale: float, minutes: int = SNAPSHOT_EVERY_MINUTES) -> int:
    """Ticks between snapshots for a world of ``time_scale`` simulated seconds per tick."""
    return max(1, round(minutes * 60.0 / time_scale))


def _values(column: object) -> list[str | int | float | bool | None]:
    array = np.asarray(column)
    if array.dtype.kind == "f":
        return [round(float(v), DIGITS) for v in array]
    if array.dtype.kind in "iu":
        return [int(v) for v in array]
    if array.dtype.kind == "b":
        return [bool(v) for v in array]
    return [None if v is None else str(v) for v in array]


def snapshot(world: World, tick: int) -> WorldSnapshot:
    """The ``world.snapshot`` payload of ``world`` as it is now (after tick ``tick``)."""
    rooms = world.rooms
    agents = world.agents
    on = agents[agents["active"]]
    minute = int(tick * world.params.scalar("time_scale") // 60)
    return WorldSnapshot(
        clock=world.clock(),
        minute=minute,
        rooms={name: _values(rooms[name]) for name in ROOM_COLUMNS},
        agents={
            "agent_id": _values(on["id"]),
            **{name: _values(on[name]) for name in AGENT_COLUMNS},
        },
    )


def snapshot_event(world: World, tick: int) -> NewEvent:
    """The snapshot as an event of the ``world`` stream, stamped with its tick."""
    return NewEvent.of(snapshot(world, tick), stream=WORLD_STREAM, tick=tick)
