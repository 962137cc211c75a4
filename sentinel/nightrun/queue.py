"""The nightrun's job queue, kept in the audit store itself: it resumes after any crash.

A run is identified by its ``run_key`` (a hash of the trail it reads). Its job list is the
``nightrun.started`` event; each job's result is a ``nightrun.memory`` event appended with
the idempotency key ``nightrun:<run_key>:<agent>``, in one transaction. After a crash
(kill -9 anywhere) the next start reads which results are stored and does only the rest:
a job whose result committed is never done again (and were it redone, the store would
return the stored event, not a second one); a job whose result did not commit left
nothing, and is done. Jobs run in a fixed order, so the step chain is the same whether a
run was interrupted or not.
"""

from __future__ import annotations

from sentinel.audit import AuditStore, Event

STREAM = "nightrun"
"""The stream of every nightrun event."""


def job_key(run_key: str, job: str) -> str:
    """The idempotency key of a job's result."""
    return f"nightrun:{run_key}:{job}"


def stored(store: AuditStore, run_key: str) -> dict[str, Event]:
    """The nightrun events of ``run_key`` already stored, by job (and ``started``/``finished``)."""
    found: dict[str, Event] = {}
    for event in store.read(stream=STREAM):
        if event.payload.get("run_key") != run_key:
            continue
        if event.type == "nightrun.memory":
            found[str(event.payload["agent_id"])] = event
        elif event.type in ("nightrun.started", "nightrun.finished"):
            found[event.type] = event
    return found
