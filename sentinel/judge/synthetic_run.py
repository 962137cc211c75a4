"""A recorded run written directly, for the judge's and nightrun's tests and benches.

It holds what a real run records for those two (``runtime.started``, the agents' chat
actions, tool results, conversations, world snapshots, shift ends) with messages in each
persona's voice (:mod:`sentinel.judge.voices`), and persona swaps injected where asked: a
run of any size and make-up in well under a second, where a real 24-hour run takes minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from sentinel.agents.options import RunOptions
from sentinel.audit import AuditStore, NewEvent
from sentinel.gateway.persona import Persona
from sentinel.judge.voices import swapped, voice

TICKS_PER_DAY: Final = 86_400
"""A day of one-second ticks."""
BATCH: Final = 2_000


def write_run(
    path: Path,
    personas: Sequence[Persona],
    *,
    config: Path,
    messages: int = 40,
    seed: int = 0,
    swaps: Mapping[str, str] | None = None,
    share: float = 0.5,
    tool_calls: int = 6,
    snapshot_minutes: int = 120,
) -> None:
    """Write a day's run of ``personas`` to a new store at ``path``.

    Args:
        path: The store to create.
        personas: Who works (the ids must be in the company at ``config``).
        config: The company directory the ``runtime.started`` event names.
        messages: Chat messages per agent, spread over the day.
        seed: Varies the messages.
        swaps: Agent id -> the persona whose voice replaces ``share`` of its messages.
        share: The share of messages swapped.
        tool_calls: Tool results per agent (every third one fails).
        snapshot_minutes: Minutes between world snapshots (a real run: 5).
    """
    by_id = {p.id: p for p in personas}
    options = RunOptions(config=config, shift="all", store=path, seed=seed)
    events: list[NewEvent] = [
        NewEvent(
            "runtime",
            "runtime.started",
            {"options": options.to_record(), "seed": seed, "ticks": TICKS_PER_DAY},
        )
    ]
    timeline: list[tuple[int, NewEvent]] = []
    for n, persona in enumerate(personas):
        other = (swaps or {}).get(persona.id)
        lines = (
            swapped(persona, by_id[other], messages, seed, share)
            if other
            else voice(persona, messages, seed)
        )
        stream = f"agent/{persona.id}"
        for i, line in enumerate(lines):
            tick = 1 + (i * TICKS_PER_DAY) // messages + n
            payload = {"agent_id": persona.id, "action_type": "chat", "target": "", "content": line}
            timeline.append((tick, NewEvent(stream, "world.action", payload, tick=tick)))
        for i in range(tool_calls):
            tick = 100 + (i * TICKS_PER_DAY) // max(tool_calls, 1) + n
            result = {
                "agent_id": persona.id, "tool": "pytest" if i % 2 else "fs",
                "command": "true", "exit_code": 1 if i % 3 == 2 else 0, "signal": None,
                "output": "x" * (10 + i), "violations": 0,
            }  # fmt: skip
            timeline.append((tick, NewEvent("runtime", "runtime.tool_result", result, tick=tick)))
        end = TICKS_PER_DAY - 1
        retired = {"agent_id": persona.id, "change": "retired", "reason": "shift change"}
        timeline.append((end, NewEvent(stream, "agent.lifecycle", retired, tick=end)))
    for minute in range(0, 24 * 60, snapshot_minutes):
        tick, hour = minute * 60 + 1, minute // 60
        agents = {
            "agent_id": [p.id for p in personas],
            "valence": [round(((i * 7 + hour) % 11 - 5) / 5, 3) for i in range(len(personas))],
            "arousal": [round(((i * 3 + hour) % 7) / 7, 3) for i in range(len(personas))],
        }
        clock = f"{hour:02d}:{minute % 60:02d}"
        snapshot = {"clock": clock, "minute": minute, "rooms": {}, "agents": agents}
        timeline.append((tick, NewEvent("world", "world.snapshot", snapshot, tick=tick)))
    timeline.sort(key=lambda item: item[0])
    events += [event for _, event in timeline]
    with AuditStore(path) as store:
        for start in range(0, len(events), BATCH):
            store.append_batch(events[start : start + BATCH])
