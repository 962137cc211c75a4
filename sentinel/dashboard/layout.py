"""The office a run used, as the dashboard draws it: rooms by floor, doors, personas.

The company directory is the one the run recorded in its ``runtime.started`` event (its
``options.config``); when that directory is gone, or the run has not started yet, the
caller's fallback is used. Room metrics and agents' whereabouts come from the events, not
from here: this is the static part of the picture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentinel.config import load_company
from sentinel.dashboard.feed import EventSource


def recorded_config(feed: EventSource) -> Path | None:
    """The company directory recorded by the store's ``runtime.started`` event, if any."""
    for event in feed.read(-1, limit=50):
        if event["type"] == "runtime.started":
            try:
                document = json.loads(event["canonical"])
                return Path(document["payload"]["options"]["config"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def office_layout(feed: EventSource, fallback: Path) -> dict[str, Any]:
    """Rooms (id, name, floor, kind, capacity, windows), doors, chaos kinds, personas.

    Args:
        feed: The run's events (read for the recorded company directory).
        fallback: The company directory to use when none is recorded or it is gone.
    """
    config = recorded_config(feed)
    directory = config if config is not None and config.is_dir() else fallback
    company = load_company(directory)
    plan = company.floor_plan
    return {
        "config": str(directory),
        "rooms": [
            {
                "id": room.id,
                "name": room.name,
                "floor": room.floor,
                "kind": str(room.kind),
                "capacity": room.capacity,
                "has_window": room.has_window,
            }
            for room in plan.rooms
        ],
        "doors": [list(door) for door in plan.doors],
        "chaos": [
            {
                "name": kind.name,
                "room_kind": None if kind.room_kind is None else str(kind.room_kind),
            }
            for kind in company.simulation.chaos
        ],
        "personas": {
            p.id: {
                "name": p.identity.name,
                "role": p.identity.role,
                "department": p.identity.department,
                "shift_set": p.identity.shift_set,
                "bio": p.background.bio,
                "tools": list(p.capabilities.tools),
            }
            for p in company.personas
        },
    }
