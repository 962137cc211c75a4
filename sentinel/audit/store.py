"""The embedded audit store: SQLite in WAL mode, append-only, hash-chained, checkpointed.

One writer thread per store object commits appends in groups (group commit): callers
block until the transaction holding their events is durable (``synchronous=FULL``), then
get their events back. Writers in other threads and processes serialize on SQLite's write
lock (``BEGIN IMMEDIATE``), and each transaction reads the chain's tail under that lock,
so positions stay dense and the chain never forks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from sentinel import _native
from sentinel.audit.chain import GENESIS, link_hash, seal_events
from sentinel.audit.checkpoints import Checkpoint, CheckpointSigner, SignedCheckpoint, VerifierKey
from sentinel.audit.events import FORMAT_VERSION, NO_STREAM, Event, NewEvent
from sentinel.audit.lamport import LamportClock
from sentinel.audit.location import key_dir, private_dir, witness_dir
from sentinel.audit.merkle import MerkleLog, leaf_hashes
from sentinel.audit.native_writer import Record, commit_native, records_for
from sentinel.audit.schema import SCHEMA, SCHEMA_VERSION, TRIGGERS
from sentinel.audit.sqlite_link import native_sqlite_is_shared
from sentinel.audit.uuid7 import uuid7
from sentinel.audit.witness import Witness, log_id_of
from sentinel.errors import (
    AuditError,
    CheckpointError,
    InvalidEventError,
    StoreClosedError,
    StoreCorruptError,
    WrongExpectedRevisionError,
)

SQLITE_HEADER: Final = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file (sqlite.org/fileformat.html)."""
DEFAULT_CHECKPOINT_EVERY: Final = 1000
"""Sign a checkpoint after this many new events..."""
DEFAULT_CHECKPOINT_INTERVAL_MS: Final = 1000
"""...or after this long with unsigned events, whichever comes first."""
MAX_EVENT_BYTES: Final = 1 << 20
"""Largest canonical event accepted (1 MiB): audit events are records, not file transfers."""
MAX_EVENTS_PER_COMMIT: Final = 100_000
"""Group commit takes queued requests until a transaction holds this many events."""
BUSY_TIMEOUT_MS: Final = 60_000
"""How long a writer waits for another process's write lock before failing."""
READ_BATCH: Final = 10_000
PAGE_SIZE: Final = 16_384

log = logging.getLogger(__name__)


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


@dataclass
class _Tail:
    size: int
    hash: bytes
    lamport: int


_STOP: Final = object()
_SELECT_EVENT: Final = "SELECT canonical, hash FROM events"
_INDEXED_MEMBERS: Final = (
    "position",
    "event_id",
    "stream",
    "stream_rev",
    "type",
    "lamport",
    "correlation_id",
    "idempotency_key",
)
"""Document members copied into index columns, in the column order of _INSERT_EVENT."""
_INSERT_EVENT: Final = (
    "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport, correlation_id,"
    " idempotency_key, prev_hash, hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Takes effect only when the file is created: 16 KiB pages hold ~40 events each and
    # measured 25% faster appends than the 4 KiB default on the CI machine.
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: every commit fsyncs the WAL, so an acknowledged append survives power loss too.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


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
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval_s = checkpoint_interval_ms / 1000
        self._create = create
        if not create:
            self._require_existing()
        self._closed = False
        self._read_lock = threading.Lock()
        try:
            self._reader = _connect(self.path)
            self._writer_conn = _connect(self.path)
            self.origin = self._initialize()
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.path}: not a usable audit store: {exc}") from None
        self._key_path = self._choose_key_path(signing_key_path)
        directory = witness_dir() if witness is True else (witness or None)
        self._witness = Witness(Path(directory), self.origin) if directory else None
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
        self._signer = self._load_signer()
        self._cosigner: CheckpointSigner | None = None
        self._tree = MerkleLog()
        tail = self._tail(self._reader)
        self.clock = LamportClock(tail.lamport)
        last = self._reader.execute("SELECT max(size) FROM checkpoints").fetchone()[0]
        self._last_checkpoint_size = last or 0
        self._last_checkpoint_time = time.monotonic()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._subscribers_lock = threading.Lock()
        self._tree_lock = threading.RLock()
        self._queue: queue.SimpleQueue[_Request | _Task | object] = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._write_loop, name=f"audit-writer:{self.path.name}", daemon=True
        )
        self._writer.start()

    # -- opening ---------------------------------------------------------------------------
    def _require_existing(self) -> None:
        try:
            with self.path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreCorruptError(
                f"{self.path}: no audit store here ({exc.strerror}); only writers such as "
                "`sentinel-run run` create stores"
            ) from None
        if header != SQLITE_HEADER:
            raise StoreCorruptError(
                f"{self.path}: not a Sentinel audit store (not even an SQLite database)"
            )

    def _choose_key_path(self, given: Path | str | None) -> Path:
        beside = self.path.with_name(self.path.name + ".signing-key")
        if given:
            key_path = Path(given)
        elif beside.exists():
            key_path = beside
        else:
            return private_dir(key_dir()) / f"{log_id_of(self.origin)}.signing-key"
        if key_path.parent.resolve() == self.path.parent.resolve():
            log.warning(
                "%s: the signing key sits beside the store; whoever can copy the store gets "
                "the key too (keep keys in %s)",
                key_path,
                key_dir(),
            )
        return key_path

    def _initialize(self) -> str:
        conn = self._writer_conn
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if tables and "meta" not in tables:
            raise StoreCorruptError(
                f"{self.path}: an SQLite database, but not a Sentinel audit store"
            )
        if not tables and not self._create:
            raise StoreCorruptError(
                f"{self.path}: an empty SQLite database, not an audit store; only writers "
                "such as `sentinel-run run` create stores"
            )
        # Every statement is CREATE ... IF NOT EXISTS: safe when processes open a new store at once.
        conn.executescript(SCHEMA + TRIGGERS)
        conn.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                log_id = str(uuid.uuid4())
                meta = {
                    "schema_version": str(SCHEMA_VERSION),
                    "log_id": log_id,
                    "origin": f"sentinel/{log_id}",
                    "created_ns": str(time.time_ns()),
                }
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            elif meta.get("schema_version") != str(SCHEMA_VERSION):
                found = meta.get("schema_version")
                raise StoreCorruptError(  # noqa: TRY301 - rolled back by the handler below
                    f"{self.path}: schema version {found!r}; this Sentinel reads {SCHEMA_VERSION}"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        origin: str = meta["origin"]
        return origin

    def _load_signer(self) -> CheckpointSigner:
        keys = self._reader.execute("SELECT key_id FROM keys").fetchall()
        if not keys:
            if self._key_path.exists():
                signer = CheckpointSigner.load(self.origin, self._key_path)
            else:
                signer = CheckpointSigner.generate(self.origin)
                signer.save(self._key_path)
            self._register_key(signer, first_size=0)
            return signer
        if not self._key_path.exists():
            raise CheckpointError(
                f"{self._key_path}: the signing key of {self.path} is missing; restore it, "
                f"or start a new key with `sentinel-run audit rotate-key --store {self.path}`"
            )
        signer = CheckpointSigner.load(self.origin, self._key_path)
        known = {row[0] for row in keys}
        if f"{signer.verifier.key_id:08x}" not in known:
            raise CheckpointError(f"{self._key_path}: this key is not registered in {self.path}")
        return signer

    def _register_key(self, signer: CheckpointSigner, *, first_size: int) -> None:
        with self._write_lock_transaction(self._writer_conn) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO keys (key_id, vkey, created_ns, first_size)"
                " VALUES (?, ?, ?, ?)",
                (f"{signer.verifier.key_id:08x}", str(signer.verifier), time.time_ns(), first_size),
            )

    @contextlib.contextmanager
    def _write_lock_transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
            try:
                first = self._queue.get(timeout=self.checkpoint_interval_s)
            except queue.Empty:
                self._checkpoint_if_due(self._writer_conn)
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
            self._commit(batch)
            self._run_task(_Task(self._checkpoint_if_due))
            if held is _STOP:
                break
            if isinstance(held, _Task):
                self._run_task(held)
        self._run_task(_Task(lambda conn: self._checkpoint_if_due(conn, force=True)))

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

    def _commit(self, batch: list[_Request]) -> None:
        if self._native_writer is not None:
            self._commit_native(batch, self._native_writer)
            return
        conn = self._writer_conn
        outcomes: list[list[Event] | BaseException] = []
        try:
            with self._write_lock_transaction(conn):
                tail = self._verified_tail(conn)
                revisions: dict[str, int] = {}
                for request in batch:
                    conn.execute("SAVEPOINT request")
                    try:
                        events, tail = self._apply(conn, request, tail, revisions)
                    except (AuditError, InvalidEventError) as exc:
                        conn.execute("ROLLBACK TO request")
                        conn.execute("RELEASE request")
                        outcomes.append(exc)
                        revisions.clear()  # the rolled-back request may have moved them
                        continue
                    conn.execute("RELEASE request")
                    outcomes.append(events)
        except StoreCorruptError as exc:
            for request in batch:
                request.future.set_exception(exc)
            return
        except sqlite3.Error as exc:
            error = AuditError(f"{self.path}: the append failed and was rolled back: {exc}")
            for request in batch:
                request.future.set_exception(error)
            return
        self._resolve(batch, outcomes)

    def _commit_native(self, batch: list[_Request], writer: _native.LogWriter) -> None:
        requests = [(request.events, request.records or [], request.expected) for request in batch]
        try:
            outcomes: list[list[Event] | BaseException] = list(
                commit_native(
                    writer,
                    requests,
                    node=self.node,
                    clock=self.clock.value,
                    max_event_bytes=MAX_EVENT_BYTES,
                )
            )
        except StoreCorruptError as exc:  # the tail does not verify: nothing was written
            for request in batch:
                request.future.set_exception(exc)
            return
        except AuditError as exc:
            error = AuditError(f"{self.path}: the append failed and was rolled back: {exc}")
            for request in batch:
                request.future.set_exception(error)
            return
        self._resolve(batch, outcomes)

    def _resolve(self, batch: list[_Request], outcomes: list[list[Event] | BaseException]) -> None:
        self._after_commit(outcomes)
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    def _apply(
        self, conn: sqlite3.Connection, request: _Request, tail: _Tail, revisions: dict[str, int]
    ) -> tuple[list[Event], _Tail]:
        """Write one request inside the group's transaction; returns its events and new tail."""
        known, fresh, first_with_key = self._resolve_keys(conn, request.events)
        if fresh:
            for stream, expected in request.expected.items():
                actual = self._revision(conn, stream, revisions)
                if expected != actual:
                    raise WrongExpectedRevisionError(stream, expected, actual)
            documents = self._documents(conn, [event for _, event in fresh], tail, revisions)
            inserted = self._insert(conn, [index for index, _ in fresh], documents, tail.hash)
            known.update(zip((index for index, _ in fresh), inserted, strict=True))
            last = inserted[-1]
            tail = _Tail(last.position + 1, last.hash, last.lamport)
        results = []
        for index, event in enumerate(request.events):
            if index not in known:  # a key repeated inside this request: the first one answers
                assert event.idempotency_key is not None  # noqa: S101 - only keyed events are skipped
                index = first_with_key[event.idempotency_key]  # noqa: PLW2901
            results.append(known[index])
        return results, tail

    @staticmethod
    def _resolve_keys(
        conn: sqlite3.Connection, events: Sequence[NewEvent]
    ) -> tuple[dict[int, Event], list[tuple[int, NewEvent]], dict[str, int]]:
        """Split a request into events already stored (by idempotency key) and new ones."""
        known: dict[int, Event] = {}
        fresh: list[tuple[int, NewEvent]] = []
        first_with_key: dict[str, int] = {}
        for index, event in enumerate(events):
            key = event.idempotency_key
            if key is not None:
                if key in first_with_key:
                    continue
                first_with_key[key] = index
                row = conn.execute(_SELECT_EVENT + " WHERE idempotency_key = ?", (key,)).fetchone()
                if row is not None:
                    known[index] = Event.from_canonical(row[0], row[1])
                    continue
            fresh.append((index, event))
        return known, fresh, first_with_key

    def _documents(
        self,
        conn: sqlite3.Connection,
        events: Sequence[NewEvent],
        tail: _Tail,
        revisions: dict[str, int],
    ) -> list[dict[str, Any]]:
        """The event documents (docs/audit-format.md section 1), without ``prev_hash``."""
        documents = []
        lamport = max(self.clock.value, tail.lamport)
        for offset, event in enumerate(events):
            revision = self._revision(conn, event.stream, revisions) + 1
            revisions[event.stream] = revision
            lamport += 1
            documents.append(
                {
                    "v": FORMAT_VERSION,
                    "event_id": uuid7(),
                    "position": tail.size + offset,
                    "stream": event.stream,
                    "stream_rev": revision,
                    "type": event.type,
                    "payload": event.payload,
                    "lamport": lamport,
                    "node": self.node,
                    "wall_ns": time.time_ns(),
                    "tick": event.tick,
                    "correlation_id": event.correlation_id,
                    "causation_id": event.causation_id,
                    "idempotency_key": event.idempotency_key,
                }
            )
        return documents

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        indexes: Sequence[int],
        documents: list[dict[str, Any]],
        prev: bytes,
    ) -> list[Event]:
        """Seal the documents onto the chain and insert them; returns the stored events."""
        events, rows = [], []
        for index, doc, (canonical, digest) in zip(
            indexes, documents, seal_events(prev, documents), strict=True
        ):
            if len(canonical) > MAX_EVENT_BYTES:
                raise InvalidEventError(
                    f"events[{index}]: {len(canonical)} bytes encoded, "
                    f"the limit is {MAX_EVENT_BYTES}"
                )
            events.append(Event.from_document(doc, prev, digest, canonical))
            indexed = tuple(doc[column] for column in _INDEXED_MEMBERS)
            rows.append((*indexed, prev, digest, canonical))
            prev = digest
        conn.executemany(_INSERT_EVENT, rows)
        return events

    @staticmethod
    def _revision(conn: sqlite3.Connection, stream: str, cache: dict[str, int]) -> int:
        if stream not in cache:
            row = conn.execute(
                "SELECT max(stream_rev) FROM events WHERE stream = ?", (stream,)
            ).fetchone()
            cache[stream] = NO_STREAM if row[0] is None else row[0]
        return cache[stream]

    def _verified_tail(self, conn: sqlite3.Connection) -> _Tail:
        """The tail, checked: new events are only ever chained onto a link that holds."""
        row = conn.execute(
            "SELECT position, hash, lamport, prev_hash, canonical FROM events"
            " ORDER BY position DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return _Tail(0, GENESIS, 0)
        position, digest, lamport, prev, canonical = row
        blobs = (digest, prev, canonical)
        if not (
            all(isinstance(value, bytes) for value in blobs)
            and len(digest) == len(prev) == len(GENESIS)
            and link_hash(prev, canonical) == digest
        ):
            raise StoreCorruptError(
                f"{self.path}: the last stored event (position {position}) does not verify; "
                "refusing to append after it (run `sentinel-run audit verify`)"
            )
        return _Tail(position + 1, digest, lamport)

    @staticmethod
    def _tail(conn: sqlite3.Connection) -> _Tail:
        row = conn.execute(
            "SELECT position, hash, lamport FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        return _Tail(0, GENESIS, 0) if row is None else _Tail(row[0] + 1, row[1], row[2])

    def _after_commit(self, outcomes: Sequence[list[Event] | BaseException]) -> None:
        top = 0
        for outcome in outcomes:
            if isinstance(outcome, list) and outcome:
                top = max([top, *(event.lamport for event in outcome)])
        if top:
            self.clock.observe(top)
        with self._subscribers_lock:
            for loop, signal in list(self._subscribers):
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(signal.set)

    def observe(self, remote_lamport: int) -> int:
        """Merge a Lamport timestamp received from another node into this node's clock."""
        return self.clock.observe(remote_lamport)

    # -- Merkle tree and checkpoints -------------------------------------------------------
    def _sync_tree(self, conn: sqlite3.Connection) -> int:
        """Bring the in-memory tree up to the log's tail; returns the tree size."""
        with self._tree_lock:
            return self._sync_tree_locked(conn)

    def _sync_tree_locked(self, conn: sqlite3.Connection) -> int:
        start = len(self._tree)
        cursor = conn.execute(
            "SELECT position, hash FROM events WHERE position >= ? ORDER BY position", (start,)
        )
        while rows := cursor.fetchmany(READ_BATCH):
            if rows[0][0] != len(self._tree):
                raise StoreCorruptError(
                    f"{self.path}: positions are not dense near {len(self._tree)}; run audit verify"
                )
            self._tree.append(leaf_hashes([row[1] for row in rows]))
        return len(self._tree)

    def _checkpoint_if_due(
        self, conn: sqlite3.Connection, *, force: bool = False
    ) -> SignedCheckpoint | None:
        with self._write_lock_transaction(conn):
            size = self._sync_tree(conn)
            pending = size - self._last_checkpoint_size
            due = pending >= self.checkpoint_every or (
                pending > 0
                and time.monotonic() - self._last_checkpoint_time >= self.checkpoint_interval_s
            )
            if not (due or (force and pending > 0)):
                return None
            with self._tree_lock:
                root = self._tree.root(size)
            head = Checkpoint(self.origin, size, root)
            signed = self._signer.sign(head)
            if self._cosigner is not None:  # the first checkpoint after a key rotation
                signed = SignedCheckpoint(
                    head, self._cosigner.sign(head).signatures + signed.signatures
                )
            conn.execute(
                "INSERT OR IGNORE INTO checkpoints (size, root, note, key_id, wall_ns)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    size,
                    signed.checkpoint.root,
                    signed.to_note(),
                    f"{self._signer.verifier.key_id:08x}",
                    time.time_ns(),
                ),
            )
        self._last_checkpoint_size, self._last_checkpoint_time = size, time.monotonic()
        self._cosigner = None
        if self._witness is not None:
            self._witness.record(signed)
        return signed

    def checkpoint(self) -> SignedCheckpoint:
        """Sign a checkpoint of everything appended so far (the latest one if nothing is new)."""
        self._on_writer(lambda conn: self._checkpoint_if_due(conn, force=True))
        latest = self.latest_checkpoint()
        if latest is None:
            raise AuditError(f"{self.path}: the log is empty; there is nothing to checkpoint")
        return latest

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest signed checkpoint, or None for an empty log."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return (
            None
            if row is None
            else SignedCheckpoint.parse(row[0], source=f"{self.path} checkpoint")
        )

    def checkpoints(self) -> list[SignedCheckpoint]:
        """All signed checkpoints, oldest first."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT size, note FROM checkpoints ORDER BY size"
            ).fetchall()
        return [
            SignedCheckpoint.parse(note, source=f"{self.path} checkpoint {size}")
            for size, note in rows
        ]

    def verifier_keys(self) -> list[VerifierKey]:
        """The public keys registered in the store (trust on first use; auditors keep their own)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT vkey FROM keys ORDER BY first_size, created_ns"
            ).fetchall()
        return [VerifierKey.parse(row[0]) for row in rows]

    @property
    def signing_key_path(self) -> Path:
        """Where this store's current signing key is kept."""
        return self._key_path

    @property
    def verifier_key(self) -> VerifierKey:
        """The public key that signs this store's new checkpoints."""
        return self._signer.verifier

    def rotate_key(self) -> VerifierKey:
        """Replace the signing key; the old key file is kept as ``<key>.retired-<id>``.

        The first checkpoint after rotation is signed by both keys, so an auditor who trusts
        the old key can follow the log to the new one.
        """
        return self._on_writer(self._rotate_key)  # type: ignore[no-any-return]

    def _rotate_key(self, conn: sqlite3.Connection) -> VerifierKey:
        old, new = self._signer, CheckpointSigner.generate(self.origin)
        retired = self._key_path.with_name(
            f"{self._key_path.name}.retired-{old.verifier.key_id:08x}"
        )
        self._key_path.rename(retired)
        new.save(self._key_path)
        with self._write_lock_transaction(conn):
            size = self._sync_tree(conn)
            conn.execute(
                "INSERT INTO keys (key_id, vkey, created_ns, first_size) VALUES (?, ?, ?, ?)",
                (f"{new.verifier.key_id:08x}", str(new.verifier), time.time_ns(), size),
            )
        self._signer, self._cosigner = new, old
        return new.verifier

    def inclusion_proof(self, position: int, size: int) -> tuple[bytes, list[bytes]]:
        """``(root, audit path)`` of the event at ``position`` in the tree of ``size`` events."""
        with self._read_lock:
            self._sync_tree(self._reader)
        with self._tree_lock:
            return self._tree.root(size), self._tree.inclusion_proof(position, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the log's first ``old_size`` events are a prefix of its first ``new_size``."""
        with self._read_lock:
            self._sync_tree(self._reader)
        with self._tree_lock:
            return self._tree.consistency_proof(old_size, new_size)

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._read_lock:
            return self._tail(self._reader).size

    def head(self) -> tuple[int, bytes]:
        """``(size, hash of the last event)``; ``(0, GENESIS)`` when empty."""
        with self._read_lock:
            tail = self._tail(self._reader)
        return tail.size, tail.hash

    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""
        with self._read_lock:
            row = self._reader.execute(
                _SELECT_EVENT + " WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else Event.from_canonical(row[0], row[1])

    def at(self, position: int) -> Event | None:
        """The event at a global position, or None."""
        with self._read_lock:
            row = self._reader.execute(
                _SELECT_EVENT + " WHERE position = ?", (position,)
            ).fetchone()
        return None if row is None else Event.from_canonical(row[0], row[1])

    def stream_revision(self, stream: str) -> int:
        """The revision of the stream's last event; ``NO_STREAM`` (-1) if it has none."""
        with self._read_lock:
            return self._revision(self._reader, stream, {})

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
        filters: list[str] = []
        params: list[object] = []
        for column, value in (
            ("stream", stream),
            ("type", type),
            ("correlation_id", correlation_id),
        ):
            if value is not None:
                filters.append(f" AND {column} = ?")
                params.append(value)
        if end is not None:
            filters.append(" AND position < ?")
            params.append(end)
        # Only fixed column names and placeholders are joined in; values go in as parameters.
        where = "".join(filters)
        sql = f"SELECT position, canonical, hash FROM events WHERE position >= ?{where}"  # noqa: S608
        sql += " ORDER BY position LIMIT ?"
        position, remaining = start, limit
        while remaining is None or remaining > 0:
            size = READ_BATCH if remaining is None else min(READ_BATCH, remaining)
            with self._read_lock:
                rows = self._reader.execute(sql, (position, *params, size)).fetchall()
            for _, canonical, digest in rows:
                yield Event.from_canonical(canonical, digest)
            if len(rows) < size:
                return
            position = rows[-1][0] + 1
            if remaining is not None:
                remaining -= len(rows)

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
        with self._read_lock:
            row = self._reader.execute(
                "SELECT position, state FROM projection_offsets WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def save_projection_checkpoint(
        self, name: str, offset: int, state: str, *, allow_rewind: bool = False
    ) -> None:
        """Persist a projection's offset and state; the offset may only move forward.

        Raises:
            AuditError: ``offset`` is behind the saved one (and ``allow_rewind`` is False).
        """
        with self._read_lock, self._write_lock_transaction(self._reader) as conn:
            row = conn.execute(
                "SELECT position FROM projection_offsets WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] > offset and not allow_rewind:
                raise AuditError(
                    f"projection {name!r}: offset {offset} is behind the saved {row[0]}"
                )
            conn.execute(
                "INSERT INTO projection_offsets (name, position, state) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET"
                " position = excluded.position, state = excluded.state",
                (name, offset, state),
            )

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
        with self._read_lock:
            self._reader.close()
        self._after_commit([])  # wake subscribers so they see the store closed

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def meta(self) -> dict[str, Any]:
        """The store's identity: log id, origin, schema version, creation time."""
        with self._read_lock:
            meta: dict[str, Any] = dict(
                self._reader.execute("SELECT key, value FROM meta").fetchall()
            )
        return {**meta, "path": str(self.path)}
