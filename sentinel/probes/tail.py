"""What the kernel probes recorded in a run's audit store, newest last, read-only.

The store is opened read-only (:func:`sentinel.audit.readonly.open_read_only`), so a store
that is being written, or that belongs to someone who must be able to show it unchanged,
is never touched. The details listed are those the recorder kept; each ``probe.activity``
says how many of its details it left out (``omitted``), and :class:`ProbeTail` sums them
so a reader knows the list is not everything.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sentinel.audit.readonly import open_read_only
from sentinel.audit.store_reads import StoreReader
from sentinel.errors import InvalidInputError
from sentinel.probes.recorder import PROBE_STREAM

DEFAULT_TAIL: Final = 50
"""Details ``probe tail`` lists when not told otherwise (a screenful or two)."""


@dataclass(frozen=True)
class ProbeTail:
    """The last details the probes recorded in one store.

    Attributes:
        store: The store read.
        details: The last ``limit`` details, oldest first; each is the recorded detail
            (``kind``, ``pid`` and the kind's members) with ``position`` (the
            ``probe.activity`` event holding it), ``wall_ns``, ``tick`` and ``agent_id``.
        matched: Details recorded for the agent asked for (all agents without one).
        omitted: Details the recorder counted but did not keep (over its per-event cap).
        agents: Every agent with probe activity in the store.
        summaries: How many ``probe.summary`` events the store holds (one per probed run).
    """

    store: str
    details: list[dict[str, Any]] = field(default_factory=list)
    matched: int = 0
    omitted: int = 0
    agents: list[str] = field(default_factory=list)
    summaries: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The tail as a JSON-ready dict."""
        return {
            "store": self.store,
            "details": self.details,
            "matched": self.matched,
            "omitted": self.omitted,
            "agents": self.agents,
            "summaries": self.summaries,
        }


def tail_probe_events(
    path: Path, *, agent_id: str | None = None, limit: int = DEFAULT_TAIL
) -> ProbeTail:
    """The last ``limit`` probe details of the store at ``path`` (of ``agent_id`` only, if given).

    Args:
        path: An audit store written by a run with kernel probes.
        agent_id: Only this agent's details.
        limit: How many details at most (the newest).

    Returns:
        The details and what was counted around them; empty when the run had no probes.

    Raises:
        StoreCorruptError: No file at ``path``, or not a Sentinel audit store.
        InvalidInputError: ``limit`` is less than 1.
    """
    if limit < 1:
        raise InvalidInputError(f"limit must be at least 1, got {limit}")
    conn, _ = open_read_only(path)
    reader = StoreReader(path, conn)
    try:
        last: deque[dict[str, Any]] = deque(maxlen=limit)
        matched = omitted = summaries = 0
        agents: set[str] = set()
        for event in reader.read(stream=PROBE_STREAM):
            if event.type == "probe.summary":
                summaries += 1
                continue
            if event.type != "probe.activity":
                continue
            agent = str(event.payload["agent_id"])
            agents.add(agent)
            if agent_id is not None and agent != agent_id:
                continue
            omitted += int(event.payload.get("omitted", 0))
            where = {
                "position": event.position,
                "wall_ns": event.wall_ns,
                "tick": event.payload.get("tick"),
                "agent_id": agent,
            }
            for detail in event.payload.get("events", []):
                matched += 1
                last.append({**where, **detail})
    finally:
        reader.close()
    return ProbeTail(str(path), list(last), matched, omitted, sorted(agents), summaries)
