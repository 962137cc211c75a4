"""What the judge reads from a run's audit store: each agent's messages and work results."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from sentinel.audit import AuditStore

DERIVED_STREAMS: Final = frozenset({"judge", "nightrun"})
"""Streams the judge and the nightrun write: never input to either."""
CI_TOOL: Final = "ci"
"""The work desk's CI run of a ticket: tests, then a commit and its ``--shortstat``."""
_CI_TESTS: Final = re.compile(r"tests run=(\d+) failed=(\d+)")
_CI_LINES: Final = re.compile(r"(\d+) (?:insertions?\(\+\)|deletions?\(-\))")
_CI_REVIEW: Final = re.compile(r": Review ")
"""A review ticket's commit message (``TICKET: Review fix.patch to ...``)."""
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
        ci_runs: ``(tick, tests run, tests failed, lines changed or None, review)`` of its
            tickets' CI runs (lines: insertions plus deletions of the commit; None when
            nothing was committed; review: a review ticket).
    """

    messages: list[tuple[int, str]] = field(default_factory=list)
    tool_results: list[tuple[int, str, int | None, int]] = field(default_factory=list)
    replies_to: list[tuple[int, str]] = field(default_factory=list)
    decisions: list[tuple[int, str, str]] = field(default_factory=list)
    ci_runs: list[tuple[int, int, int, int | None, bool]] = field(default_factory=list)


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


def ci_run(
    tick: int, command: str, output: str, payload: Mapping[str, Any]
) -> tuple[int, int, int, int | None, bool]:
    """One CI run read from its recorded command and output (see :attr:`AgentTrail.ci_runs`)."""
    tests = _CI_TESTS.search(output)
    run, failed = (int(tests[1]), int(tests[2])) if tests else (0, 0)
    changed = [int(n) for n in _CI_LINES.findall(output)]
    committed = payload.get("exit_code") == 0 and "changed" in output
    lines = sum(changed) if committed else None
    return (tick, run, failed, lines, bool(_CI_REVIEW.search(command)))


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
        output = str(payload.get("output", ""))
        trail = agents[payload["agent_id"]]
        trail.tool_results.append(
            (tick, str(payload["tool"]), payload.get("exit_code"), len(output))
        )
        if payload["tool"] == CI_TOOL:
            trail.ci_runs.append(ci_run(tick, str(payload.get("command", "")), output, payload))
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
