"""The kernel probes of one run of the main job: on when the host can, and said so."""

from __future__ import annotations

import threading
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
    overhead: dict[str, Any] | None = None
    """The blocks and estimate when the run measured the probes' cost (``probe_blocks``)."""

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
            "events": self.recorder.events_written + 1 + (self.overhead is not None),
            **({"overhead": self.overhead} if self.overhead is not None else {}),
        }


class StartingProbes:
    """The probes of a run, loading in the background while the run sets itself up.

    Loading and attaching the programs takes ~30-40 ms (libbpf parsing the kernel's BTF,
    the verifier): about what the main job spends before its first sandbox (reading the
    company, opening the audit store and the gateway), so the two overlap. :meth:`recorder`
    waits for the load; :meth:`abandon` closes a session nobody took (a run that failed
    before its sandboxes).

    Args:
        mode: ``auto`` (on when the host can load them), ``on`` or ``off``.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._session: ProbeSession | None = None
        self._error: ProbeUnavailable | None = None
        self._taken = False
        self._thread: threading.Thread | None = None
        if mode != "off":
            self._thread = threading.Thread(target=self._load, name="sentinel-probe-load")
            self._thread.start()

    def _load(self) -> None:
        try:
            self._session = ProbeSession()
        except ProbeUnavailable as exc:
            self._error = exc

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def recorder(self, store: AuditStore, tick: Callable[[], int | None]) -> RunProbes:
        """Wait for the load; the run's probes recording into ``store``.

        Args:
            store: The run's audit store.
            tick: Returns the world's current tick.

        Raises:
            ProbeUnavailable: ``mode`` is ``on`` and the host cannot load the probes.
        """
        self._wait()
        self._taken = True
        if self.mode == "off":
            return RunProbes(None, "turned off (--probes off)")
        if self._session is None:
            if self.mode == "on" and self._error is not None:
                raise self._error
            return RunProbes(None, str(self._error))
        return RunProbes(ProbeRecorder(self._session, store, tick))

    def abandon(self) -> None:
        """Close the session unless :meth:`recorder` handed it on (idempotent)."""
        self._wait()
        if not self._taken and self._session is not None:
            self._session.close()
            self._session = None
