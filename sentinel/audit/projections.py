"""Projections: named folds over the log, kept current incrementally.

A projection is a pure function ``fold(state, event) -> state`` with an initial state.
:class:`ProjectionRunner` stores each projection's state with the position it has consumed
(its offset) in the store's ``projection_offsets`` table, so it resumes where it stopped;
the offset only moves forward. Rebuilding from position zero yields the same state as the
incremental updates (the tests pin this).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sentinel.audit.events import Event
from sentinel.audit.store import AuditStore

State = TypeVar("State")


@dataclass(frozen=True)
class Projection(Generic[State]):
    """A named fold over events. The state must be JSON-serialisable."""

    name: str
    initial: Callable[[], State]
    fold: Callable[[State, Event], State]


class ProjectionRunner(Generic[State]):
    """Keeps one projection current against a store.

    Args:
        store: The audit store to read.
        projection: What to compute.
    """

    def __init__(self, store: AuditStore, projection: Projection[State]) -> None:
        self.store = store
        self.projection = projection
        saved = store.projection_checkpoint(projection.name)
        if saved is None:
            self.offset, self.state = 0, projection.initial()
        else:
            self.offset, self.state = saved[0], json.loads(saved[1])

    def update(self) -> State:
        """Fold every event after the offset, persist, and return the state."""
        state, offset = self.state, self.offset
        for event in self.store.read(start=offset):
            state = self.projection.fold(state, event)
            offset = event.position + 1
        if offset != self.offset:
            self.store.save_projection_checkpoint(
                self.projection.name, offset, json.dumps(state, sort_keys=True)
            )
            self.state, self.offset = state, offset
        return state

    def rebuild(self) -> State:
        """Recompute from position zero and replace the persisted state."""
        state: State = self.projection.initial()
        offset = 0
        for event in self.store.read():
            state = self.projection.fold(state, event)
            offset = event.position + 1
        self.store.save_projection_checkpoint(
            self.projection.name, offset, json.dumps(state, sort_keys=True), allow_rewind=True
        )
        self.state, self.offset = state, offset
        return state


def agent_of(event: Event) -> str | None:
    """The agent an event is about: its ``agent/<id>`` stream, or its payload's ``agent_id``."""
    if event.stream.startswith("agent/"):
        return event.stream.removeprefix("agent/")
    agent = event.payload.get("agent_id")
    return agent if isinstance(agent, str) else None


def _fold_activity(state: dict[str, Any], event: Event) -> dict[str, Any]:
    agent = agent_of(event)
    if agent is None:
        return state
    entry = state.setdefault(
        agent, {"events": 0, "by_type": {}, "last_position": -1, "last_tick": None}
    )
    entry["events"] += 1
    entry["by_type"][event.type] = entry["by_type"].get(event.type, 0) + 1
    entry["last_position"] = event.position
    if event.tick is not None:
        entry["last_tick"] = event.tick
    return state


def _fold_costs(state: dict[str, Any], event: Event) -> dict[str, Any]:
    if event.type != "gateway.model_call":
        return state
    agent = agent_of(event) or "unknown"
    entry = state.setdefault(agent, {"calls": 0, "synthesized": 0, "tokens": 0, "cost_usd": 0.0})
    payload = event.payload
    entry["calls"] += 1
    entry["synthesized"] += 1 if payload.get("synthesized") else 0
    entry["tokens"] += int(payload.get("prompt_tokens", 0)) + int(
        payload.get("completion_tokens", 0)
    )
    entry["cost_usd"] = round(entry["cost_usd"] + float(payload.get("cost_usd", 0.0)), 9)
    return state


AGENT_ACTIVITY: Projection[dict[str, Any]] = Projection("agent_activity", dict, _fold_activity)
"""Per agent: event count, counts by type, last position and tick."""
AGENT_COSTS: Projection[dict[str, Any]] = Projection("agent_costs", dict, _fold_costs)
"""Per agent: model calls, synthesized answers, tokens and money (from gateway.model_call)."""
