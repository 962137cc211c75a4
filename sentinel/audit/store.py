"""The embedded audit store: SQLite in WAL mode, append-only, hash-chained, checkpointed.

One writer thread per store object commits appends in groups (group commit): callers
block until the transaction holding their events is durable (``synchronous=FULL``), then
get their events back. Writers in other threads and processes serialize on SQLite's write
lock (``BEGIN IMMEDIATE``), and each transaction reads the chain's tail under that lock,
so positions stay dense and the chain never forks.

This module is the writer thread and the public face; the parts live apart so each can be
read and tested alone: the file (``store_file``), the Python write path
(``reference_writer``; the native one is ``native_writer``), signing keys
(``store_keys``), the tree and checkpoints (``store_checkpoints``), reads (``store_reads``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import queue
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from sentinel import _native
from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.events import Event, NewEvent
from sentinel.audit.lamport import LamportClock
from sentinel.audit.location import witness_dir
from sentinel.audit.native_writer import Record, commit_native, records_for
from sentinel.audit.reference_writer import MAX_EVENT_BYTES, apply_request, verified_tail
from sentinel.audit.sqlite_link import native_sqlite_is_shared
from sentinel.audit.store_checkpoints import Checkpointer
from sentinel.audit.store_file import connect, initialize, require_existing, write_lock_transaction
from sentinel.audit.store_keys import choose_key_path, load_signer
from sentinel.audit.store_reads import READ_BATCH, StoreReader
from sentinel.audit.witness import Witness
from sentinel.errors import AuditError, InvalidEventError, StoreClosedError, StoreCorruptError

__all__ = ["MAX_EVENT_BYTES", "AuditStore"]

DEFAULT_CHECKPOINT_EVERY: Final = 1000
"""Sign a checkpoint after this many new events..."""
DEFAULT_CHECKPOINT_INTERVAL_MS: Final = 1000
"""...or after this long with unsigned events, whichever comes first."""
MAX_EVENTS_PER_COMMIT: Final = 100_000
"""Group commit takes queued requests until a transaction holds this many events."""
PENDING_CHECKPOINT_WAIT_S: Final = 0.05
"""How long a signed checkpoint waits for a group to ride on before it is stored alone:
a caller appending batch after batch comes back within a few milliseconds (checking and
encoding its next batch), so longer would only delay the checkpoint of a quiet store."""


@dataclass
class _Request:
    events: list[NewEvent]
    expected: Mapping[str, int]
    records: list[Record] | None = None
    """Canonical payloads for the native writer, encoded in the caller's thread."""
    future: Future[list[Event]] = field(default_factory=Future)


@dataclass
class _Task:
    """Work that must run on the writer thread (checkpoints, key rotation)."""

    run: Callable[[sqlite3.Connection], Any]
    future: Future[Any] = field(default_factory=Future)


_STOP: Final = object()
log = logging.getLogger(__name__)


class AuditStore:
    """An append-only, hash-chained, signed audit log in one SQLite file.

    Args:
        path: The database file; created with a new signing key when it does not exist
            (and ``create`` is true).
        node: This writer's node name in Lamport timestamps (default: the host name).
        signing_key_path: The Ed25519 key that signs checkpoints (default:
            ``<key dir>/<log id>.signing-key``, created with the store, mode 0600; see
            :mod:`sentinel.audit.location`). A key beside the store is used with a warning.
        checkpoint_every: Sign a checkpoint after this many events.
        checkpoint_interval_ms: ...or after this long with unsigned events.
        writer: ``native`` commits each group in one Rust call; ``reference`` in Python
            (same logs, slower; the oracle of the differential tests). By default native,
            unless the native core and Python's ``sqlite3`` would be two copies of SQLite
            in one process (see :mod:`sentinel.audit.sqlite_link`).
        create: False for commands that only work on an existing store: the file must
            already be a Sentinel audit store (it is never turned into one).
        witness: Where every signed checkpoint is also recorded (``True``: the default
            witness directory; ``False``: nowhere). See :mod:`sentinel.audit.witness`.

    Raises:
        StoreCorruptError: The file is not a Sentinel audit store or is damaged.
        CheckpointError: The store exists but its signing key is missing or wrong.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        node: str | None = None,
        signing_key_path: Path | str | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_interval_ms: int = DEFAULT_CHECKPOINT_INTERVAL_MS,
        writer: Literal["native", "reference"] | None = None,
        create: bool = True,
        witness: Path | bool = True,
    ) -> None:
        self.path = Path(path)
        self.node = node or socket.gethostname() or "node"
        if not create:
            require_existing(self.path)
        self._closed = False
        try:
            self._reads = StoreReader(self.path, connect(self.path))
            self._writer_conn = connect(self.path)
            self.origin = initialize(self._writer_conn, self.path, create=create)
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.path}: not a usable audit store: {exc}") from None
        key_path = choose_key_path(self.path, self.origin, signing_key_path)
        directory = witness_dir() if witness is True else (witness or None)
        if writer is None:
            writer = "native" if native_sqlite_is_shared() else "reference"
        elif writer == "native" and not native_sqlite_is_shared():
            raise AuditError(
                "the native writer needs the same SQLite library as Python's sqlite3 module "
                "(two copies in one process corrupt databases); use writer='reference'"
            )
        self.writer = writer
        self._native_writer = (
            _native.LogWriter(str(self.path), self.node, MAX_EVENT_BYTES)
            if writer == "native"
            else None
        )
        signer = self._reads.using(
            lambda conn: load_signer(conn, self._writer_conn, self.path, self.origin, key_path)
        )
        self._checkpoints = Checkpointer(
            self.path,
            self.origin,
            signer,
            key_path,
            every=checkpoint_every,
            interval_s=checkpoint_interval_ms / 1000,
            last_size=self._reads.last_checkpoint_size(),
            witness=Witness(Path(directory), self.origin) if directory else None,
        )
        self.clock = LamportClock(self._reads.lamport())
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._subscribers_lock = threading.Lock()
        self.commit_listeners: list[Callable[[list[Event]], None]] = []
        """Called on the writer thread with each committed request's events (the live bus);
        a listener must be quick and never raises into the writer (errors are logged)."""
        self._queue: queue.SimpleQueue[_Request | _Task | object] = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._write_loop, name=f"audit-writer:{self.path.name}", daemon=True
        )
        self._writer.start()

    @property
    def checkpoint_every(self) -> int:
        """Sign a checkpoint after this many new events."""
        return self._checkpoints.every

    # -- appending -------------------------------------------------------------------------
    def append(
        self,
        stream: str,
        type: str,  # noqa: A002 - the event field is called type
        payload: Mapping[str, Any] | None = None,
        *,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
        tick: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Event:
        """Append one event and return it once it is durable.

        Args:
            stream: The stream, such as ``agent/AGENT-07``.
            type: The event type, such as ``sandbox.violation``.
            payload: JSON-compatible data.
            expected_revision: ``None`` for any; ``NO_STREAM`` (-1) if the stream must not
                exist; otherwise the revision of the stream's last event.
            idempotency_key: Appending the same key again returns the original event.
            tick: Simulation tick.
            correlation_id: Groups related events.
            causation_id: The event that caused this one.

        Raises:
            InvalidEventError: The event cannot be stored as given (nothing is written).
            WrongExpectedRevisionError: The stream is at another revision.
            StoreClosedError: The store was closed.
        """
        event = NewEvent(
            stream, type, payload or {}, idempotency_key, tick, correlation_id, causation_id
        )
        expected = {} if expected_revision is None else {stream: expected_revision}
        return self.append_batch([event], expected_revisions=expected)[0]

    def append_batch(
        self, events: Sequence[NewEvent], *, expected_revisions: Mapping[str, int] | None = None
    ) -> list[Event]:
        """Append events atomically (all or none) and return them once durable.

        Events whose idempotency key is already stored come back as the original events;
        no second copy is written.

        Raises:
            InvalidEventError: An event cannot be stored; nothing of the batch is written.
            WrongExpectedRevisionError: A stream named in ``expected_revisions`` is elsewhere.
            StoreClosedError: The store was closed.
        """
        return self._submit(events, expected_revisions).result()

    async def append_async(
        self, events: Sequence[NewEvent], *, expected_revisions: Mapping[str, int] | None = None
    ) -> list[Event]:
        """:meth:`append_batch` for async code: awaits durability without blocking the loop."""
        return await asyncio.wrap_future(self._submit(events, expected_revisions))

    def _submit(
        self, events: Sequence[NewEvent], expected: Mapping[str, int] | None
    ) -> Future[list[Event]]:
        if self._closed:
            raise StoreClosedError(f"{self.path}: the store is closed")
        checked = [event.validated(index) for index, event in enumerate(events)]
        records = records_for(checked) if self._native_writer is not None else None
        request = _Request(checked, dict(expected or {}), records)
        self._queue.put(request)
        return request.future

    def _write_loop(self) -> None:
        while True:
            wait = self._checkpoints.interval_s
            if self._checkpoints.pending is not None:
                wait = min(wait, PENDING_CHECKPOINT_WAIT_S)
            try:
                first = self._queue.get(timeout=wait)
            except queue.Empty:
                self._checkpoints.sign_if_due(self._writer_conn)
                continue
            if first is _STOP:
                break
            if isinstance(first, _Task):
                self._run_task(first)
                continue
            assert isinstance(first, _Request)  # noqa: S101 - the queue holds nothing else
            batch, total, held = [first], len(first.events), None
            while total < MAX_EVENTS_PER_COMMIT:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(more, _Request):
                    held = more  # a task or _STOP runs after this group commits
                    break
                batch.append(more)
                total += len(more.events)
            if self._commit(batch):  # the pending checkpoint, if any, committed with it
                self._checkpoints.pending_committed()
            self._run_task(_Task(self._checkpoints.after_group))
            if held is _STOP:
                break
            if isinstance(held, _Task):
                self._run_task(held)
        self._run_task(_Task(lambda conn: self._checkpoints.sign_if_due(conn, force=True)))

    def _run_task(self, task: _Task) -> None:
        try:
            task.future.set_result(task.run(self._writer_conn))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller waiting on the future
            task.future.set_exception(exc)

    def _on_writer(self, run: Callable[[sqlite3.Connection], Any]) -> Any:  # noqa: ANN401 - returns what run returns
        if self._closed:
            raise StoreClosedError(f"{self.path}: the store is closed")
        task = _Task(run)
        self._queue.put(task)
        return task.future.result()

    def _rolled_back(self, exc: BaseException) -> AuditError:
        return AuditError(f"{self.path}: the append failed and was rolled back: {exc}")

    @staticmethod
    def _fail(batch: list[_Request], error: BaseException) -> None:
        for request in batch:
            request.future.set_exception(error)

    def _commit(self, batch: list[_Request]) -> bool:
        """Commit a group (and the pending checkpoint); False when nothing was written."""
        if self._native_writer is not None:
            return self._commit_native(batch, self._native_writer)
        conn = self._writer_conn
        outcomes: list[list[Event] | BaseException] = []
        try:
            with write_lock_transaction(conn):
                tail = verified_tail(conn, self.path)
                self._checkpoints.store_pending(conn)
                revisions: dict[str, int] = {}
                for request in batch:
                    conn.execute("SAVEPOINT request")
                    try:
                        events, tail = apply_request(
                            conn, request.events, request.expected, tail, revisions,
                            clock=self.clock.value, node=self.node,
                        )  # fmt: skip
                    except (AuditError, InvalidEventError) as exc:
                        conn.execute("ROLLBACK TO request")
                        conn.execute("RELEASE request")
                        outcomes.append(exc)
                        revisions.clear()  # the rolled-back request may have moved them
                        continue
                    conn.execute("RELEASE request")
                    outcomes.append(events)
        except StoreCorruptError as exc:  # the tail does not verify: nothing was written
            self._fail(batch, exc)
            return False
        except sqlite3.Error as exc:
            self._fail(
                batch, AuditError(f"{self.path}: the append failed and was rolled back: {exc}")
            )
            return False
        self._resolve(batch, outcomes)
        return True

    def _commit_native(self, batch: list[_Request], writer: _native.LogWriter) -> bool:
        requests = [(request.events, request.records or [], request.expected) for request in batch]
        pending = self._checkpoints.pending
        try:
            outcomes: list[list[Event] | BaseException] = list(
                commit_native(
                    writer,
                    requests,
                    node=self.node,
                    clock=self.clock.value,
                    max_event_bytes=MAX_EVENT_BYTES,
                    checkpoint=None if pending is None else (pending.row, pending.subtrees),
                )
            )
        except StoreCorruptError as exc:  # the tail does not verify: nothing was written
            self._fail(batch, exc)
            return False
        except AuditError as exc:
            self._fail(
                batch, AuditError(f"{self.path}: the append failed and was rolled back: {exc}")
            )
            return False
        self._resolve(batch, outcomes)
        return True

    def _resolve(self, batch: list[_Request], outcomes: list[list[Event] | BaseException]) -> None:
        self._after_commit(outcomes)
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
        # The tree takes the new hashes once the callers have their answers: nothing they
        # do waits on it (a proof first brings the tree up to the store under its lock).
        self._checkpoints.extend(
            [
                (event.position, event.hash)
                for outcome in outcomes
                if isinstance(outcome, list)
                for event in outcome
            ]
        )

    def _after_commit(self, outcomes: Sequence[list[Event] | BaseException]) -> None:
        top = 0
        for outcome in outcomes:
            if isinstance(outcome, list) and outcome:
                top = max([top, *(event.lamport for event in outcome)])
        if top:
            self.clock.observe(top)
        for listener in self.commit_listeners:
            for outcome in outcomes:
                if isinstance(outcome, list) and outcome:
                    try:
                        listener(outcome)
                    except Exception:  # a watcher never fails an append
                        log.exception("a commit listener of %s failed", self.path)
        with self._subscribers_lock:
            for loop, signal in list(self._subscribers):
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(signal.set)

    def observe(self, remote_lamport: int) -> int:
        """Merge a Lamport timestamp received from another node into this node's clock."""
        return self.clock.observe(remote_lamport)

    # -- Merkle tree, checkpoints and keys -------------------------------------------------
    def checkpoint(self) -> SignedCheckpoint:
        """Sign a checkpoint of everything appended so far (the latest one if nothing is new)."""
        self._on_writer(lambda conn: self._checkpoints.sign_if_due(conn, force=True))
        latest = self.latest_checkpoint()
        if latest is None:
            raise AuditError(f"{self.path}: the log is empty; there is nothing to checkpoint")
        return latest

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest signed checkpoint, or None for an empty log."""
        return self._reads.latest_checkpoint()

    def checkpoints(self) -> list[SignedCheckpoint]:
        """All signed checkpoints, oldest first."""
        return self._reads.checkpoints()

    def verifier_keys(self) -> list[VerifierKey]:
        """The public keys registered in the store (trust on first use; auditors keep their own)."""
        return self._reads.verifier_keys()

    @property
    def signing_key_path(self) -> Path:
        """Where this store's current signing key is kept."""
        return self._checkpoints.key_path

    @property
    def verifier_key(self) -> VerifierKey:
        """The public key that signs this store's new checkpoints."""
        return self._checkpoints.signer.verifier

    def rotate_key(self) -> VerifierKey:
        """Replace the signing key; the old key file is kept as ``<key>.retired-<id>``.

        The first checkpoint after rotation is signed by both keys, so an auditor who trusts
        the old key can follow the log to the new one.
        """
        return self._on_writer(self._checkpoints.rotate)  # type: ignore[no-any-return]

    def inclusion_proof(self, position: int, size: int) -> tuple[bytes, list[bytes]]:
        """``(root, audit path)`` of the event at ``position`` in the tree of ``size`` events."""
        return self._reads.using(
            lambda conn: self._checkpoints.inclusion_proof(conn, position, size)
        )

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the log's first ``old_size`` events are a prefix of its first ``new_size``."""
        return self._reads.using(
            lambda conn: self._checkpoints.consistency_proof(conn, old_size, new_size)
        )

    # -- reading ---------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        """A notebook's view: file, size, head, checkpoints and the events per type."""
        size, digest = self.head()
        latest = self.latest_checkpoint()
        signed = latest.checkpoint.size if latest is not None else 0
        types = self._reads.using(
            lambda conn: conn.execute(
                "SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY type"
            ).fetchall()
        )
        rows = "".join(
            f"<tr><td>{html.escape(str(kind))}</td><td>{count}</td></tr>" for kind, count in types
        )
        return (
            f"<div><strong>AuditStore</strong> <code>{html.escape(str(self.path))}</code>: "
            f"{size} events, head <code>{digest.hex()[:16]}</code>, "
            f"{len(self.checkpoints())} signed checkpoints, latest at size "
            f"{signed}, writer {html.escape(self.writer)}"
            f"<table><thead><tr><th>type</th><th>events</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __len__(self) -> int:
        return self._reads.size()

    def head(self) -> tuple[int, bytes]:
        """``(size, hash of the last event)``; ``(0, GENESIS)`` when empty."""
        return self._reads.head()

    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""
        return self._reads.get(event_id)

    def at(self, position: int) -> Event | None:
        """The event at a global position, or None."""
        return self._reads.at(position)

    def stream_revision(self, stream: str) -> int:
        """The revision of the stream's last event; ``NO_STREAM`` (-1) if it has none."""
        return self._reads.stream_revision(stream)

    def read(
        self,
        *,
        stream: str | None = None,
        type: str | None = None,  # noqa: A002 - the event field is called type
        correlation_id: str | None = None,
        start: int = 0,
        end: int | None = None,
        limit: int | None = None,
    ) -> Iterator[Event]:
        """Events in position order, filtered; ``end`` is exclusive. Reads in batches."""
        return self._reads.read(
            stream=stream, type=type, correlation_id=correlation_id, start=start, end=end,
            limit=limit,
        )  # fmt: skip

    async def subscribe(
        self, start: int = 0, *, poll_interval: float = 0.2
    ) -> AsyncIterator[Event]:
        """Every event from ``start`` on: first those stored (catch-up), then new ones live.

        Appends made through this store object wake the subscriber at once; appends from
        other processes are noticed within ``poll_interval`` seconds.
        """
        loop = asyncio.get_running_loop()
        signal = asyncio.Event()
        entry = (loop, signal)
        with self._subscribers_lock:
            self._subscribers.add(entry)
        try:
            position = start
            while True:
                signal.clear()
                batch = list(self.read(start=position, limit=READ_BATCH))
                for event in batch:
                    yield event
                    position = event.position + 1
                if batch:
                    continue
                if self._closed:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), poll_interval)
        finally:
            with self._subscribers_lock:
                self._subscribers.discard(entry)

    # -- projections -----------------------------------------------------------------------
    def projection_checkpoint(self, name: str) -> tuple[int, str] | None:
        """``(offset, state JSON)`` saved for projection ``name``, or None."""
        return self._reads.projection_checkpoint(name)

    def save_projection_checkpoint(
        self, name: str, offset: int, state: str, *, allow_rewind: bool = False
    ) -> None:
        """Persist a projection's offset and state; the offset may only move forward.

        Raises:
            AuditError: ``offset`` is behind the saved one (and ``allow_rewind`` is False).
        """
        self._reads.save_projection_checkpoint(name, offset, state, allow_rewind=allow_rewind)

    # -- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Commit what is queued, sign a final checkpoint, and close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        # Drop the native writer's connection too: the last connection to close folds the
        # WAL back into the database file, so a closed store is one self-contained file.
        self._native_writer = None
        self._writer_conn.close()
        self._reads.close()
        self._after_commit([])  # wake subscribers so they see the store closed

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def meta(self) -> dict[str, Any]:
        """The store's identity: log id, origin, schema version, creation time."""
        return {**self._reads.meta(), "path": str(self.path)}
