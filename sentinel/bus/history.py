"""A run's committed events, answered from its store to a subscriber that joined late.

The live bus carries only what happens while someone listens: a dashboard started after
the run (another process, ``sentinel-run dashboard --bus``) hears the run from its first
sample on. The run's session therefore declares a Zenoh queryable on
``sentinel/<run>/audit/history``; a ``get`` with ``after=N;limit=M`` is answered with up to
``M`` committed events above position ``N``, read from the store (its read connection:
the writer is never blocked), as one JSON array of rows: position, type, stream, canonical
text and both hashes, as the live samples carry them. The browser checks every link as
for live samples.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from sentinel.bus.keys import history_key
from sentinel.errors import BusError

if TYPE_CHECKING:
    import zenoh

    from sentinel.audit.events import Event
    from sentinel.audit.store import AuditStore

BATCH_LIMIT: Final = 2000
"""Rows per answer, as the dashboard reads a store (~2 MB of JSON at most)."""

HISTORY_TIMEOUT_S: Final = 10.0
"""How long a history ``get`` waits for the run's answer (a read of at most
:data:`BATCH_LIMIT` rows takes milliseconds)."""


class HistoryQueryable:
    """Answers history queries for one run from its store file.

    Args:
        session: The run's Zenoh session.
        run: The run's id (its key segment).
        store: The run's audit store.
    """

    def __init__(self, session: zenoh.Session, run: str, store: AuditStore) -> None:
        self._store = store
        self._queryable = session.declare_queryable(history_key(run), self._answer)

    def _answer(self, query: Any) -> None:  # noqa: ANN401 - a zenoh.Query
        try:
            after = int(query.parameters.get("after") or -1)
            limit = min(int(query.parameters.get("limit") or BATCH_LIMIT), BATCH_LIMIT)
        except ValueError:
            query.reply_err(b"after and limit must be integers")
            return
        try:
            rows = [event_row(e) for e in self._store.read(start=after + 1, limit=limit)]
        except Exception as exc:  # noqa: BLE001 - a closing store: say so, never kill zenoh's thread
            query.reply_err(f"the run's store cannot be read: {exc}".encode())
            return
        query.reply(query.key_expr, json.dumps(rows, separators=(",", ":")).encode())

    def close(self) -> None:
        """Stop answering. Idempotent."""
        self._queryable.undeclare()  # type: ignore[no-untyped-call]  # zenoh stubs


def event_row(event: Event) -> dict[str, Any]:
    """The evidence of one event as the dashboard's rows hold it (hashes as hex)."""
    return {
        "position": event.position,
        "type": event.type,
        "stream": event.stream,
        "canonical": event.canonical.decode("utf-8", errors="replace"),
        "hash": event.hash.hex(),
        "prev_hash": event.prev_hash.hex(),
    }


def fetch_history(
    session: zenoh.Session, run: str, after: int, limit: int = BATCH_LIMIT
) -> list[dict[str, Any]]:
    """Up to ``limit`` committed events of ``run`` above position ``after``, from its store.

    Raises:
        BusError: Nobody answered (the run's session is gone) or the answer is not rows.
    """
    selector = f"{history_key(run)}?after={after};limit={limit}"
    for reply in session.get(selector, timeout=HISTORY_TIMEOUT_S):
        if reply.ok is None:
            why = reply.err.payload.to_bytes() if reply.err is not None else b""
            raise BusError(f"the run {run} refused its history: {why!r}")
        rows = json.loads(reply.ok.payload.to_bytes())
        if not isinstance(rows, list):
            raise BusError(f"the run {run} answered its history with {type(rows).__name__}")
        return rows
    raise BusError(
        f"the run {run} did not answer its history within {HISTORY_TIMEOUT_S:g} s"
        " (has it finished?)"
    )
