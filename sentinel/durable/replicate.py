"""Replicating a store to its JetStream stream (R3, batched, message id = range) and back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import nats
from nats.js.api import StreamConfig

from sentinel.audit.readonly import open_read_only
from sentinel.audit.schema import SCHEMA, TRIGGERS
from sentinel.audit.store_file import connect, write_lock_transaction
from sentinel.durable.event_batch import FramedEvent, cut_batches, decode_batch
from sentinel.errors import DurableError

EVENTS_PER_MESSAGE: Final = 512
"""Ours: events carried by one ``.events`` message (measured in benches/test_jetstream_bench.py:
past a few hundred the per-message cost no longer shows)."""
MESSAGE_BYTES: Final = 256 * 1024
"""Ours: events are packed into a message body up to this size, so a publish in flight
during a node loss is small to retry; a larger event travels alone (up to the server's
``max_payload`` less ``HEADER_ROOM``)."""
HEADER_ROOM: Final = 4096
"""Ours: bytes kept below the server's ``max_payload`` for the headers of a message."""
FETCH: Final = 64
"""Ours: messages the mirror pulls per request (up to 64 x 256 KiB)."""
WINDOW: Final = 16
"""Ours: messages in flight at once (acknowledgments awaited concurrently): 16 x 512 events."""
DUPLICATE_WINDOW_S: Final = 24 * 3600
"""JetStream drops a repeated message id within this window: replays are exactly once."""
_EVENT_COLUMNS: Final = (
    "position, event_id, stream, stream_rev, type, lamport, correlation_id, idempotency_key,"
    " prev_hash, hash, canonical"
)


RETRY_FOR_S: Final = 30.0
"""Ours: a publish unacknowledged during a leader election (seconds) is retried this long;
the same message id makes the retry exactly once."""
PUBLISH_TIMEOUT_S: Final = 2.0
"""Ours: one publish waits this long for its acknowledgment before it is retried (a 256 KiB
message on the loaded 2-core test host is acknowledged in well under a second)."""
_RETRIED: Final = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)
IN_PROCESS_ERR_CODE: Final = 10158
"""JetStream's "duplicate message id is in process": a retry reached the new leader while the
first publish of that id is still being stored; asked again, the stream answers with the
first one's acknowledgment (or its duplicate flag), so it is retried like a timeout."""


async def publish_acked(js: Any, subject: str, data: bytes, headers: dict[str, str]) -> None:  # noqa: ANN401
    """Publish until the stream acknowledges (retrying through a node loss or an election).

    Raises:
        DurableError: Still unacknowledged after ``RETRY_FOR_S`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + RETRY_FOR_S
    while True:
        try:
            await js.publish(subject, data, headers=headers, timeout=PUBLISH_TIMEOUT_S)
        except (*_RETRIED, nats.js.errors.APIError) as exc:
            retried = isinstance(exc, _RETRIED) or (
                getattr(exc, "err_code", None) == IN_PROCESS_ERR_CODE
            )
            if not retried:
                raise DurableError(f"{subject}: refused by the stream: {exc}") from None
            if asyncio.get_running_loop().time() > deadline:
                raise DurableError(
                    f"{subject}: not acknowledged after {RETRY_FOR_S} s: {exc}"
                ) from None
            await asyncio.sleep(0.1)
        else:
            return


def stream_name(log_id: str) -> str:
    """The JetStream stream of one store."""
    return "SENTINEL_" + log_id.replace("-", "_")


async def ensure_stream(js: Any, log_id: str, replicas: int) -> None:  # noqa: ANN401
    """Create the stream of ``log_id`` (R``replicas``) unless it exists.

    Raises:
        DurableError: The cluster did not create it (no meta leader, a peer missing).
    """
    config = StreamConfig(
        name=stream_name(log_id),
        subjects=[f"sentinel.{log_id}.>"],
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    for _ in range(100):  # the cluster elects its meta leader after start
        try:
            await js.add_stream(config)
        except nats.js.errors.APIError as exc:
            if "already in use" in str(exc):
                return
            await asyncio.sleep(0.1)
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            await asyncio.sleep(0.1)
        else:
            return
    raise DurableError(f"cannot create stream {stream_name(log_id)}")


async def replicate(
    store: Path,
    urls: list[str],
    *,
    replicas: int = 3,
    start: int = 0,
    events_per_message: int = EVENTS_PER_MESSAGE,
    window: int = WINDOW,
    on_acked: Callable[[int], None] | None = None,
) -> int:
    """Publish the store's identity, events from ``start`` and checkpoints; return events acked.

    Events travel ``events_per_message`` to a message (``.events``, message id
    ``events-<first>-<last>``), ``window`` messages in flight at once; the next messages are
    read and framed while earlier ones await their acknowledgment. An event counts only
    once the stream's R``replicas`` quorum acknowledged its message; ``on_acked`` is called
    with the running count after each acknowledgment. Checkpoints are published after every
    event is acknowledged. Messages may land out of order (concurrent, retried); the mirror
    orders events by position.

    Raises:
        DurableError: The cluster cannot be reached, the stream cannot be created, an event
            is larger than a message, or a message stays unacknowledged.
    """
    if events_per_message < 1 or window < 1:
        raise DurableError(
            f"events_per_message ({events_per_message}) and window ({window}) must be >= 1"
        )
    conn, _origin = open_read_only(store)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        keys = [
            list(row)
            for row in conn.execute("SELECT key_id, vkey, created_ns, first_size FROM keys")
        ]
        checkpoints = conn.execute(
            "SELECT size, root, note, key_id, wall_ns FROM checkpoints"
        ).fetchall()
        try:
            nc = await nats.connect(
                urls, connect_timeout=2, max_reconnect_attempts=60, reconnect_time_wait=0.1
            )
        except (OSError, nats.errors.NoServersError) as exc:
            raise DurableError(f"cannot reach the NATS cluster {urls}: {exc}") from None
        try:
            js = nc.jetstream(timeout=10)
            await ensure_stream(js, meta["log_id"], replicas)
            subject = f"sentinel.{meta['log_id']}"
            identity = json.dumps({"meta": meta, "keys": keys}).encode()
            await publish_acked(
                js, f"{subject}.meta", identity, {"Nats-Msg-Id": f"meta-{len(keys)}"}
            )
            # One read transaction (WAL snapshot) streams the events while they are sent.
            rows = conn.execute(
                "SELECT position, prev_hash, hash, canonical FROM events WHERE position >= ?"
                " ORDER BY position",
                (start,),
            )
            batches = cut_batches(
                rows, events_per_message, MESSAGE_BYTES, nc.max_payload - HEADER_ROOM
            )
            acked = await _publish_window(js, f"{subject}.events", batches, window, on_acked)
            for size, root, note, key_id, wall_ns in checkpoints:
                note_document = {
                    "size": size,
                    "root": root.hex(),
                    "note": note,
                    "key_id": key_id,
                    "wall_ns": wall_ns,
                }
                await publish_acked(
                    js,
                    f"{subject}.checkpoint",
                    json.dumps(note_document).encode(),
                    {"Nats-Msg-Id": f"checkpoint-{size}"},
                )
        finally:
            await nc.close()
    finally:
        conn.close()
    return acked


async def _publish_window(
    js: Any,  # noqa: ANN401 - nats-py's JetStreamContext
    subject: str,
    batches: Iterable[tuple[int, int, bytes]],
    window: int,
    on_acked: Callable[[int], None] | None,
) -> int:
    """Publish every batch, at most ``window`` unacknowledged; return the events acknowledged.

    Raises:
        DurableError: A message stays unacknowledged (the others are cancelled).
    """
    in_flight = asyncio.Semaphore(window)
    acked = 0

    async def one(first: int, last: int, body: bytes) -> None:
        nonlocal acked
        try:
            await publish_acked(js, subject, body, {"Nats-Msg-Id": f"events-{first}-{last}"})
        finally:
            in_flight.release()
        acked += last - first + 1
        if on_acked is not None:
            on_acked(acked)

    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the rest
            for batch in batches:
                await in_flight.acquire()  # framing the next batch overlaps the acks
                group.create_task(one(*batch))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return acked


async def _fetch_all(
    sub: nats.js.JetStreamContext.PullSubscription, total: int, log_id: str
) -> list[Any]:
    """Fetch ``total`` messages of a pull subscription.

    A stream answering 503 (a leader election, a busy node) is waited for, up to
    :data:`RETRY_FOR_S` seconds without an answer.
    """
    messages: list[Any] = []
    clock = asyncio.get_running_loop()
    quiet_since = None
    while len(messages) < total:
        try:
            messages.extend(await sub.fetch(min(FETCH, total - len(messages)), timeout=10))
            quiet_since = None
        except _RETRIED as exc:
            quiet_since = quiet_since or clock.time()
            if clock.time() - quiet_since > RETRY_FOR_S:
                raise DurableError(
                    f"the stream of log {log_id} stopped answering for {RETRY_FOR_S} s: {exc}"
                ) from None
            await asyncio.sleep(0.2)
    return messages


async def mirror(log_id: str, urls: list[str], target: Path) -> int:
    """Rebuild a store at ``target`` from the stream of ``log_id``; return its event count.

    The mirror holds the same canonical bytes, hashes, checkpoints and keys, so the
    ordinary verifier checks it (``verify_store(target)``).

    Raises:
        DurableError: The target exists, or the stream is missing or incomplete.
    """
    if target.exists():
        raise DurableError(f"{target}: exists; a mirror is always built into a new file")
    nc = await nats.connect(
        urls, connect_timeout=2, max_reconnect_attempts=60, reconnect_time_wait=0.1
    )
    try:
        js = nc.jetstream(timeout=10)
        info = None
        for _ in range(100):  # a node lost a moment ago: the stream elects a new leader
            try:
                info = await js.stream_info(stream_name(log_id))
                break
            except nats.js.errors.NotFoundError:
                raise DurableError(f"no stream for log {log_id}") from None
            except _RETRIED:
                await asyncio.sleep(0.2)
        if info is None:
            raise DurableError(f"the stream of log {log_id} does not answer")
        total = info.state.messages
        sub = None
        for _ in range(100):  # creating the consumer waits for the stream's leader too
            try:
                sub = await js.pull_subscribe(
                    f"sentinel.{log_id}.>", durable=None, stream=stream_name(log_id)
                )
                break
            except _RETRIED:
                await asyncio.sleep(0.2)
        if sub is None:
            raise DurableError(f"cannot read the stream of log {log_id}")
        messages = await _fetch_all(sub, total, log_id)
        for message in messages:
            await message.ack()
    finally:
        await nc.close()
    return _write_mirror(target, log_id, messages)


def _write_mirror(target: Path, log_id: str, messages: list[Any]) -> int:
    events: dict[int, tuple[FramedEvent, tuple[Any, ...]]] = {}
    conn = connect(target)
    try:
        conn.executescript(SCHEMA + TRIGGERS)
        with write_lock_transaction(conn):
            for message in messages:
                kind = message.subject.rsplit(".", 1)[1]
                where = f"stream of log {log_id}, message {message.metadata.sequence.stream}"
                if kind == "meta":
                    document = json.loads(message.data)
                    conn.executemany(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        document["meta"].items(),
                    )
                    conn.executemany(
                        "INSERT OR IGNORE INTO keys VALUES (?, ?, ?, ?)", document["keys"]
                    )
                elif kind == "events":
                    for event in decode_batch(message.data, where):
                        _collect(events, event, where)
                elif kind == "event":  # one event per message: streams written before batching
                    headers = message.headers
                    event = FramedEvent(
                        bytes.fromhex(headers["prev"]), bytes.fromhex(headers["hash"]), message.data
                    )
                    _collect(events, event, where)
                elif kind == "checkpoint":
                    c = json.loads(message.data)
                    conn.execute(
                        "INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                        (c["size"], bytes.fromhex(c["root"]), c["note"], c["key_id"], c["wall_ns"]),
                    )
            missing = sorted(set(range(len(events))) - events.keys())
            if missing:
                raise DurableError(
                    f"stream of log {log_id}: events missing from position {missing[0]}"
                    f" ({len(missing)} positions); the replication did not finish"
                )
            conn.executemany(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
                (events[position][1] for position in range(len(events))),
            )
    finally:
        conn.close()
    return len(events)


def _collect(
    events: dict[int, tuple[FramedEvent, tuple[Any, ...]]], event: FramedEvent, where: str
) -> None:
    """Keep ``event`` and its row by position; a repeat must be byte-identical (batches overlap).

    Raises:
        DurableError: The canonical bytes are not an event document, or two different
            events claim one position.
    """
    try:
        document = json.loads(event.canonical)
        row = (
            document["position"], document["event_id"], document["stream"], document["stream_rev"],
            document["type"], document["lamport"], document["correlation_id"],
            document["idempotency_key"], event.prev_hash, event.hash, event.canonical,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise DurableError(f"{where}: not an audit event document: {exc!r}") from None
    seen, _row = events.setdefault(row[0], (event, row))
    if seen != event:
        raise DurableError(f"{where}: a different event at position {row[0]} was already read")
