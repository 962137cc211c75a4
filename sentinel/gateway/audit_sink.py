"""Where the gateway's audit events go: the default store, and an asynchronous group commit.

Acknowledgment semantics (``Gateway(audit_ack=...)``):

- ``durable`` (the library's default): a request returns once its events are committed to
  the store with ``synchronous=FULL`` (fsynced; the store's writer groups concurrent
  requests into one transaction and one fsync); if the store refuses them, the request
  fails instead of answering.
- ``queued`` (``gateway serve``'s default): a request returns once its decisions are
  queued as payloads in this process's memory (not yet encoded, chained or on disk); a
  writer thread builds the events and commits every queued request's events in one
  ``append_batch`` (one transaction, all or none, fsynced), so the request path pays
  neither the event building, the canonical encoding nor the commit. The writer, woken by a
  request, first lets :data:`GROUP_WAIT_S` pass (or :data:`MAX_GROUP` requests queue up),
  so a busy gateway commits one group per interval instead of one per request, and the
  writer competes with the request threads for the interpreter once per group rather than
  once per request.
  Events are committed within about ``GROUP_WAIT_S`` plus one commit.
  :meth:`AuditSink.flush` waits for everything queued so far; :meth:`AuditSink.close`
  (and so ``Gateway.close``, and Ctrl-C / SIGTERM on ``gateway serve``) flushes before it
  returns. A crash (``kill -9``, power loss) can lose the events of requests answered but
  not yet committed: about :data:`MAX_QUEUED` requests (plus one per request thread
  racing past the check), since a full queue makes the next request wait for the queue's
  commit (back-pressure rather than loss). A failed commit is retried request by
  request; events that still cannot be stored are counted
  (``sentinel_gateway_audit_failures_total``) and logged, as the answer has already gone.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from sentinel.audit.events import NewEvent
from sentinel.audit.location import default_store
from sentinel.audit.store import AuditStore
from sentinel.errors import SentinelError

AuditAck = Literal["durable", "queued"]
MAX_QUEUED = 10_000
"""Requests whose events may wait for a commit; the next request waits when it is full."""
MAX_GROUP = 512
"""Requests committed together at most (a few thousand events, one transaction)."""
GROUP_WAIT_S = 0.01
"""How long the writer lets requests queue up after the first before it commits them."""

log = logging.getLogger(__name__)

Build = Callable[[], Sequence[NewEvent]]
"""Builds one request's events (called on the writer thread in ``queued`` mode)."""


def default_store_path() -> Path:
    """The audit store ``gateway serve`` records to when no ``--store`` is given.

    The audit trail's shared default (:func:`sentinel.audit.location.default_store`):
    ``$SENTINEL_STORE`` if set, else ``audit.db`` in Sentinel's data directory, the same
    store ``run``, ``replay`` and ``audit`` open.
    """
    return default_store()


def open_default_store(path: Path | None = None) -> AuditStore:
    """Open (or create) the audit store at ``path`` or :func:`default_store_path`."""
    target = path if path is not None else default_store_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    return AuditStore(target)


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class AuditSink:
    """Commits each request's audit events, synchronously or as a group on a writer thread.

    Args:
        store: The audit store (it belongs to the caller, who closes it after the sink).
        ack: ``durable`` or ``queued`` (see the module's docstring).
        on_failure: Called with the number of events that could not be stored.
        group_wait_s: ``queued`` mode: how long a group gathers (0: commit at once).
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        ack: AuditAck = "durable",
        on_failure: Callable[[int], None] | None = None,
        group_wait_s: float = GROUP_WAIT_S,
    ) -> None:
        self.store = store
        self.ack = ack
        self.group_wait_s = group_wait_s
        self._on_failure = on_failure
        # A SimpleQueue (C, no lock in Python): ``queue.Queue.put`` was a visible share of
        # a synthesized request's own time; its bound is kept by :meth:`submit`.
        self._queue: queue.SimpleQueue[Build | _Flush | object] = queue.SimpleQueue()
        self._full = threading.Event()
        self._thread: threading.Thread | None = None
        if ack == "queued":
            self._thread = threading.Thread(
                target=self._write_loop, name="gateway-audit", daemon=True
            )
            self._thread.start()

    def submit(self, build: Build) -> None:
        """Record one request's events: committed now (``durable``) or queued.

        Raises:
            AuditError: ``durable`` mode only: the store refused the events.
        """
        if self._thread is None:
            events = build()
            if events:
                self.store.append_batch(events)
            return
        if self._queue.qsize() >= MAX_QUEUED:
            self.flush()  # back-pressure: wait for the queue's commit rather than drop
        self._queue.put(build)
        if self._queue.qsize() >= MAX_GROUP - 1:
            self._full.set()  # the writer stops gathering: the group is full

    def flush(self) -> None:
        """Wait until every request submitted so far is committed (or counted as lost)."""
        if self._thread is None or not self._thread.is_alive():
            return
        marker = _Flush()
        self._queue.put(marker)
        marker.done.wait()

    def close(self) -> None:
        """Flush and stop the writer thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if callable(item) and self.group_wait_s > 0:
                self._gather()
            group: list[Build] = []
            waiting: list[_Flush] = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, _Flush):
                    waiting.append(item)
                elif callable(item):
                    group.append(item)
                if stop or len(group) >= MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if group:
                self._commit(group)
            for marker in waiting:
                marker.done.set()
            if stop:
                return

    def _gather(self) -> None:
        """Let a group queue up: wait (not holding the interpreter) until it is due or full.

        One timed wait rather than polling the queue's size: every wake-up of this thread
        takes the interpreter from a request thread in the middle of its answer.
        """
        self._full.wait(self.group_wait_s)
        self._full.clear()

    def _commit(self, group: list[Build]) -> None:
        built: list[Sequence[NewEvent]] = []
        for build in group:
            try:
                built.append(build())
            except Exception:  # a bug in one request's events must not stop the writer
                log.exception("building a request's audit events failed")
                self._failed(1)
        events = [event for request in built for event in request]
        if not events:
            return
        try:
            self.store.append_batch(events)
        except (SentinelError, OSError):
            # One request's bad event fails the whole group: commit them one by one.
            for request in built:
                try:
                    self.store.append_batch(request)
                except (SentinelError, OSError):
                    log.exception("audit events of a gateway request could not be stored")
                    self._failed(len(request))

    def _failed(self, count: int) -> None:
        if self._on_failure is not None:
            self._on_failure(count)
