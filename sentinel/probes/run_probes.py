"""The kernel probes of one run of the main job: on when the host can, and said so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentinel.audit import AuditStore
from sentinel.errors import ProbeUnavailable
from sentinel.probes.recorder import ProbeRecorder
from sentinel.probes.records import AgentTotals
from sentinel.probes.session import ProbeSession


@dataclass
class RunProbes:
    """The probes of a run, or why there are none.

    Attributes:
        recorder: The recorder, None when the probes are off.
        reason: Why they are off ("" when on).
    """

    recorder: ProbeRecorder | None
    reason: str = ""

    def close(self) -> dict[str, Any]:
        """Stop the probes; return the run summary's ``probes`` entry."""
        if self.recorder is None:
            return {"enabled": False, "reason": self.reason}
        totals = self.recorder.close()
        overall = sum(totals.values(), AgentTotals())
        return {
            "enabled": True,
            "programs": self.recorder.session.programs,
            "agents": len(totals),
            **overall.to_dict(),
            "lost": self.recorder.session.lost,
            "unwatchable": len(self.recorder.session.unwatchable),
            "events": self.recorder.events_written + 1,
        }


def open_recorder(mode: str, store: AuditStore, tick: Callable[[], int | None]) -> RunProbes:
    """Start the probes for a run.

    Args:
        mode: ``auto`` (on when the host can load them), ``on`` or ``off``.
        store: The run's audit store.
        tick: Returns the world's current tick.

    Raises:
        ProbeUnavailable: ``mode`` is ``on`` and the host cannot load the probes.
    """
    if mode == "off":
        return RunProbes(None, "turned off (--probes off)")
    try:
        session = ProbeSession()
    except ProbeUnavailable as exc:
        if mode == "on":
            raise
        return RunProbes(None, str(exc))
    return RunProbes(ProbeRecorder(session, store, tick))
