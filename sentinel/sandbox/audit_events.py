"""Sandbox results as audit events: one ``sandbox.executed`` per command, one
``sandbox.violation`` per thing a layer stopped, all on the agent's stream.
"""

from __future__ import annotations

from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import SandboxExecuted, SandboxViolation
from sentinel.sandbox.result import ExecResult

MAX_ARGV_IN_EVENT = 32
"""Arguments kept per event; longer command lines are cut (the event says so)."""


def record(
    store: AuditStore,
    agent_id: str,
    argv: list[str],
    result: ExecResult,
    *,
    tick: int | None = None,
) -> None:
    """Append the command's outcome and each violation, atomically, to ``agent/<id>``."""
    stream = f"agent/{agent_id}"
    kept = argv[:MAX_ARGV_IN_EVENT] + (
        [f"... {len(argv) - MAX_ARGV_IN_EVENT} more"] if len(argv) > MAX_ARGV_IN_EVENT else []
    )
    events = [
        NewEvent.of(
            SandboxExecuted(
                agent_id=agent_id, argv=kept, exit_code=result.exit_code, signal=result.signal,
                timed_out=result.timed_out, oom_killed=result.oom_killed, cpu_s=round(result.cpu_s, 6),
                max_rss_bytes=result.max_rss_bytes, layers=list(result.layers),
            ),
            stream=stream, tick=tick,
        )
    ]  # fmt: skip
    events += [
        NewEvent.of(
            SandboxViolation(
                agent_id=agent_id,
                layer=v.layer,
                attempt=" ".join(kept)[:500],
                detail=f"{v.kind}: {v.detail}",
            ),
            stream=stream,
            tick=tick,
        )  # fmt: skip
        for v in result.violations
    ]
    store.append_batch(events)
