"""Batch what the probe saw into the audit trail: one ``probe.activity`` event per agent.

A background thread drains the probe every :data:`FLUSH_INTERVAL_S` and appends, for each
agent that did something, its counters since its previous event and the details (capped,
with the rest counted). Kernel events arrive in wall-clock time, not simulated time, so
they are batched by the clock and tagged with the world's tick at that moment; they live on
their own stream (``probes``) so a replay, which re-executes only the ``runtime`` stream,
is not affected by them. :meth:`ProbeRecorder.close` flushes what is left and records a
``probe.summary``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Final

from sentinel.audit import AuditStore, NewEvent
from sentinel.probes.records import AgentTotals, ProbeRecord
from sentinel.probes.session import ProbeSession

PROBE_STREAM: Final = "probes"
"""The stream the recorder writes to."""
FLUSH_INTERVAL_S: Final = 0.5
"""How often the recorder drains the probe (the kernel queues up to its capacity between)."""
PROBE_DETAILS_PER_EVENT: Final = 64
"""Details kept per agent and batch; an agent that forks a storm is counted, not listed."""


class ProbeRecorder:
    """Drain a probe session into an audit store in the background.

    Args:
        session: The probe session (this recorder closes it).
        store: Where the events go.
        tick: Returns the world's current tick (None outside a run).
    """

    def __init__(
        self,
        session: ProbeSession,
        store: AuditStore,
        tick: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.session = session
        self.store = store
        self._tick = tick
        self._reported: dict[str, AgentTotals] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.events_written = 0
        self._thread = threading.Thread(target=self._loop, name="sentinel-probe-recorder")
        self._thread.daemon = True
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self.flush()

    def flush(self) -> int:
        """Append one event per agent with new activity; return how many were appended."""
        with self._lock:
            events = self._batch(self.session.poll(), self.session.totals())
            if events:
                self.store.append_batch(events)
                self.events_written += len(events)
            return len(events)

    def _batch(self, records: list[ProbeRecord], totals: dict[str, AgentTotals]) -> list[NewEvent]:
        details: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            details[self.session.agent(record.slot)].append(record.detail())
        tick = self._tick()
        events = []
        for agent_id in sorted(set(totals) | set(details)):
            now = totals.get(agent_id, AgentTotals())
            delta = now - self._reported.get(agent_id, AgentTotals())
            listed = details.get(agent_id, [])
            if not delta.any() and not listed:
                continue
            self._reported[agent_id] = now
            payload = {
                "agent_id": agent_id,
                "tick": tick,
                "totals": delta.to_dict(),
                "events": listed[:PROBE_DETAILS_PER_EVENT],
                "omitted": max(0, len(listed) - PROBE_DETAILS_PER_EVENT),
            }
            events.append(NewEvent(PROBE_STREAM, "probe.activity", payload))
        return events

    def close(self) -> dict[str, AgentTotals]:
        """Stop, flush the rest, record ``probe.summary``, detach; return the totals."""
        self._stop.set()
        self._thread.join()
        self.session.close()  # detaches; the maps stay readable through their own handles
        self.flush()
        totals = self.session.totals()
        summary = {
            "programs": self.session.programs,
            "agents": {agent: sums.to_dict() for agent, sums in sorted(totals.items())},
            "lost": self.session.lost,
            "unwatchable": list(self.session.unwatchable),
        }
        self.store.append(PROBE_STREAM, "probe.summary", summary)
        return totals
