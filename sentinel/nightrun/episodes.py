"""Episodes: what happened to each agent during the day, grouped by what it was.

An episode is one kind of happening for one agent (``tool:pytest:failed``, ``talk:AGENT-03``,
``went:kitchen``, ``violation:seccomp`` ...) with how often it happened, when first and
last, and how the agent felt (valence and arousal from the nearest ``world.snapshot`` at or
before its last occurrence). Read from the audit trail between two positions; the judge's
and the nightrun's own streams are never input.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from sentinel.audit import AuditStore

DERIVED_STREAMS: Final = frozenset({"judge", "nightrun"})
RELEVANCE: Final = {
    "violation": 1.0,
    "attack": 1.0,
    "refused": 0.8,
    "tool_failed": 0.9,
    "tool": 0.6,
    "talk": 0.7,
    "said": 0.4,
    "went": 0.3,
}
"""Ours: how much each kind of happening matters to an office worker's next day, in [0, 1]
(the reference left relevance unspecified): being stopped by the sandbox or a failing tool
more than a walk to the kitchen."""


@dataclass
class Episode:
    """One kind of happening of one agent in the day.

    Attributes:
        agent_id: Whose.
        key: What (``kind:detail``).
        kind: The key's kind (a key of :data:`RELEVANCE`).
        text: A sentence for the prompt.
        repetitions: How often it happened.
        first_tick: Its first occurrence.
        last_tick: Its last occurrence.
        valence: The agent's valence (-1..1) at the last occurrence (0 if unknown).
        arousal: The agent's arousal (0..1) at the last occurrence (0 if unknown).
    """

    agent_id: str
    key: str
    kind: str
    text: str
    repetitions: int
    first_tick: int
    last_tick: int
    valence: float = 0.0
    arousal: float = 0.0


@dataclass
class DayTrail:
    """The day's episodes per agent, with the clock to turn ticks into hours."""

    episodes: dict[str, list[Episode]]
    end_tick: dict[str, int]
    """Per agent, its last tick in the day (its shift's end, or the day's last event)."""
    seconds_per_tick: float
    start: int
    end: int


def _happening(  # noqa: PLR0911 - one return per kind of event, flat on purpose
    event_type: str, payload: dict[str, Any]
) -> tuple[str, str, str, str] | None:
    """``(agent, kind, detail, text)`` of an event, or None if it is no happening."""
    agent = str(payload.get("agent_id", ""))
    if event_type == "runtime.tool_result":
        ok = payload.get("exit_code") == 0
        tool = str(payload.get("tool", ""))
        kind = "tool" if ok else "tool_failed"
        verb = "worked" if ok else "failed"
        return agent, kind, tool, f"a {tool} call {verb}"
    if event_type == "world.action":
        action, target = payload.get("action_type"), payload.get("target") or ""
        if action == "move" and target:
            return agent, "went", str(target), f"went to {target}"
        if action == "chat" and payload.get("content"):
            line = str(payload["content"])[:60]
            return agent, "said", line, f"said {line}"
        return None
    if event_type == "runtime.conversation":
        speaker, line = str(payload["speaker"]), str(payload["line"])
        return str(payload["addressee"]), "talk", speaker, f"{speaker} asked: {line}"
    if event_type == "runtime.attack":
        scenario, result = str(payload["scenario"]), str(payload["result"])
        return agent, "attack", f"{scenario}:{result}", f"tried {scenario}: {result}"
    if event_type == "sandbox.violation":
        layer = str(payload.get("layer", ""))
        return agent, "violation", layer, f"was stopped by {layer}"
    if event_type == "runtime.decision" and payload.get("decision") == "refused":
        rule = str(payload.get("rule", ""))
        return agent, "refused", rule, f"a request was refused ({rule})"
    return None


class _Moods:
    """Valence and arousal per agent over ticks, from ``world.snapshot`` events."""

    def __init__(self) -> None:
        self.ticks: dict[str, list[int]] = defaultdict(list)
        self.values: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def add(self, tick: int, agents: dict[str, list[Any]]) -> None:
        ids = agents.get("agent_id") or []
        valence, arousal = agents.get("valence") or [], agents.get("arousal") or []
        for i, agent in enumerate(ids):
            self.ticks[str(agent)].append(tick)
            self.values[str(agent)].append((float(valence[i] or 0), float(arousal[i] or 0)))

    def at(self, agent: str, tick: int) -> tuple[float, float]:
        ticks = self.ticks.get(agent)
        if not ticks:
            return 0.0, 0.0
        index = max(0, bisect.bisect_right(ticks, tick) - 1)
        return self.values[agent][index]


def read_day(store: AuditStore, start: int, end: int, seconds_per_tick: float) -> DayTrail:
    """The episodes of the trail in positions ``[start, end)``."""
    found: dict[tuple[str, str], Episode] = {}
    last: dict[str, int] = {}
    moods = _Moods()
    for event in store.read(start=start, end=end):
        if event.stream in DERIVED_STREAMS:
            continue
        tick = int(event.tick or 0)
        if event.type == "world.snapshot":
            moods.add(tick, event.payload.get("agents", {}))
            continue
        if event.type == "agent.lifecycle":
            last[str(event.payload["agent_id"])] = tick
            continue
        happening = _happening(event.type, event.payload)
        if happening is None or not happening[0]:
            continue
        agent, kind, detail, text = happening
        key = f"{kind}:{detail}"
        last[agent] = max(last.get(agent, 0), tick)
        episode = found.get((agent, key))
        if episode is None:
            found[(agent, key)] = Episode(agent, key, kind, text, 1, tick, tick)
        else:
            episode.repetitions += 1
            episode.last_tick = tick
    episodes: dict[str, list[Episode]] = defaultdict(list)
    for (agent, _), episode in sorted(found.items()):
        episode.valence, episode.arousal = moods.at(agent, episode.last_tick)
        episodes[agent].append(episode)
    return DayTrail(dict(episodes), last, seconds_per_tick, start, end)
