"""What the judge reads from a run's audit store: each agent's messages and work results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from sentinel.audit import AuditStore

DERIVED_STREAMS: Final = frozenset({"judge", "nightrun"})
"""Streams the judge and the nightrun write: never input to either."""
SPOKEN: Final = frozenset({"chat", "think"})
"""Action types whose content is the agent's own words (``move``/``work``/``tool_use``
contents are targets, rule templates and commands)."""


@dataclass
class AgentTrail:
    """One agent's part of a run, in order.

    Attributes:
        messages: ``(tick, text)`` of its chat and think actions.
        tool_results: ``(tick, tool, exit_code, output size)`` of its tool calls.
        replies_to: ``(tick, line said to it)`` of conversations addressed to it.
        decisions: ``(tick, kind, decision)`` of its gateway decisions.
    """

    messages: list[tuple[int, str]] = field(default_factory=list)
    tool_results: list[tuple[int, str, int | None, int]] = field(default_factory=list)
    replies_to: list[tuple[int, str]] = field(default_factory=list)
    decisions: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class RunTrail:
    """Everything the judge needs from one store, read in one pass.

    Attributes:
        started: The ``runtime.started`` payload (empty if the store has none).
        agents: Per agent id, its trail.
        head: ``(end, hash hex)``: the input ends before position ``end`` (events of the
            judge's and nightrun's own streams after it are not input), whose last event
            has that hash.
    """

    started: dict[str, object]
    agents: dict[str, AgentTrail]
    head: tuple[int, str]


def add_event(
    agents: MutableMapping[str, AgentTrail], kind: str, payload: Mapping[str, Any], tick: int
) -> None:
    """Add one event of a run to its agent's trail (events the judge does not read are left).

    Shared by :func:`read_trail` (a recorded run) and the control planes' live judge
    (:mod:`sentinel.control.live_judge`), so both read a run the same way.
    """
    if kind == "world.action":
        if payload.get("action_type") in SPOKEN and payload.get("content"):
            agents[payload["agent_id"]].messages.append((tick, str(payload["content"])))
    elif kind == "runtime.tool_result":
        agents[payload["agent_id"]].tool_results.append(
            (tick, str(payload["tool"]), payload.get("exit_code"), len(payload.get("output", "")))
        )
    elif kind == "runtime.conversation":
        agents[payload["addressee"]].replies_to.append((tick, str(payload["line"])))
    elif kind == "runtime.decision":
        agents[payload["agent_id"]].decisions.append(
            (tick, str(payload["kind"]), str(payload["decision"]))
        )


def read_trail(store: AuditStore, end: int | None = None) -> RunTrail:
    """Read the agents' messages, tool results, conversations and decisions up to ``end``."""
    agents: dict[str, AgentTrail] = defaultdict(AgentTrail)
    started: dict[str, object] = {}
    size, _ = store.head()
    stop = size if end is None else min(end, size)
    last: tuple[int, str] = (0, "")
    for event in store.read(end=stop):
        if event.stream in DERIVED_STREAMS:
            continue
        last = (event.position + 1, event.hash.hex())
        payload = event.payload
        if event.type == "runtime.started" and not started:
            started = dict(payload)
        else:
            add_event(agents, event.type, payload, int(event.tick or 0))
    return RunTrail(started, dict(agents), last)
