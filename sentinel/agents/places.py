"""Where a ``move`` goes: the gateway's generic room names mapped onto the company's rooms.

Synthesis rules and models speak of ``kitchen``, ``bathroom``, ``break_room``; the company
has ``g-kitchen``, ``u-bathroom-a`` ... A generic name goes to the nearest room of its kind
(same floor first, then the first in the floor plan); a company room id goes where it says.
"""

from __future__ import annotations

from typing import Final

from sentinel.config.company import Company
from sentinel.world import Action

GENERIC_KINDS: Final = {
    "kitchen": "kitchen",
    "bathroom": "bathroom",
    "break_room": "lounge",
    "meeting_a": "meeting",
    "meeting_b": "meeting",
    "entrance": "entrance",
    "corridor": "corridor",
    "server_room": "server",
}
"""Generic target -> room kind; office names (``office_1``...) mean the agent's own desk."""
ERRAND: Final = {"bathroom": Action.RELIEVE}
"""What an agent does on arrival in a room of this kind (the kitchen depends on hunger)."""
HUNGRY_FOR_A_MEAL: Final = 50.0
"""In the kitchen, a hunger of 50 or more means a meal, less means a coffee."""


class Places:
    """Resolves move targets for one company."""

    def __init__(self, company: Company) -> None:
        rooms = company.floor_plan.rooms
        self._ids = {room.id for room in rooms}
        self._floor = {room.id: room.floor for room in rooms}
        self._by_kind: dict[str, list[str]] = {}
        for room in rooms:
            self._by_kind.setdefault(str(room.kind), []).append(room.id)
        self._desk = {p.id: p.preferences.favorite_room for p in company.personas}

    def kind(self, room_id: str) -> str | None:
        """The kind of a company room (None for an unknown id)."""
        for kind, ids in self._by_kind.items():
            if room_id in ids:
                return kind
        return None

    def resolve(self, agent_id: str, target: str | None, current: str | None) -> str | None:
        """The company room ``target`` means for ``agent_id`` (None: nowhere known)."""
        if not target:
            return None
        if target in self._ids:
            return target
        kind = GENERIC_KINDS.get(target)
        if kind is None:
            desk = self._desk.get(agent_id)
            return desk if desk in self._ids else None
        candidates = self._by_kind.get(kind, [])
        if not candidates:
            return None
        floor = self._floor.get(current or "", 0)
        same = [room for room in candidates if self._floor[room] == floor]
        return (same or candidates)[0]
