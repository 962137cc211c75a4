"""Sandbox results as audit events.

One ``sandbox.executed`` per command and one ``sandbox.violation`` per thing a layer
stopped, appended atomically to the agent's stream ``agent/<id>``.
"""

from __future__ import annotations

from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import SandboxExecuted, SandboxViolation
from sentinel.sandbox.result import ExecResult

MAX_ARGV_IN_EVENT = 32
"""Arguments kept per event; longer command lines are cut (the event says so)."""
MAX_ATTEMPT_CHARS = 500


def record(
    store: AuditStore,
    agent_id: str,
    argv: list[str],
    result: ExecResult,
    *,
    tick: int | None = None,
) -> None:
    """Append the command's outcome and each violation, atomically, to ``agent/<id>``."""
    store.append_batch(events_for(agent_id, argv, result, tick=tick))


def events_for(
    agent_id: str, argv: list[str], result: ExecResult, *, tick: int | None = None
) -> list[NewEvent]:
    """The events :func:`record` appends, for callers that batch them with others."""
    stream = f"agent/{agent_id}"
    cut = len(argv) - MAX_ARGV_IN_EVENT
    kept = argv[:MAX_ARGV_IN_EVENT] + ([f"... {cut} more"] if cut > 0 else [])
    executed = SandboxExecuted(
        agent_id=agent_id,
        argv=kept,
        exit_code=result.exit_code,
        signal=result.signal,
        timed_out=result.timed_out,
        oom_killed=result.oom_killed,
        cpu_s=round(result.cpu_s, 6),
        max_rss_bytes=result.max_rss_bytes,
        layers=list(result.layers),
    )
    events = [NewEvent.of(executed, stream=stream, tick=tick)]
    attempt = " ".join(kept)[:MAX_ATTEMPT_CHARS]
    for violation in result.violations:
        detail = f"{violation.kind}: {violation.detail}"
        payload = SandboxViolation(
            agent_id=agent_id, layer=violation.layer, attempt=attempt, detail=detail
        )
        events.append(NewEvent.of(payload, stream=stream, tick=tick))
    return events
