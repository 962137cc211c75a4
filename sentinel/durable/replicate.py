"""Replicating a store to its JetStream stream (R3, message id = event id) and mirroring back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any, Final

import nats
from nats.js.api import StreamConfig

from sentinel.audit.readonly import open_read_only
from sentinel.audit.schema import SCHEMA, TRIGGERS
from sentinel.audit.store_file import connect, write_lock_transaction
from sentinel.errors import DurableError

WINDOW: Final = 2000
"""Publishes in flight at once (awaited acknowledgments); measured 2.7k acked/s with this."""
DUPLICATE_WINDOW_S: Final = 24 * 3600
"""JetStream drops a repeated message id within this window: replays are exactly once."""
_EVENT_COLUMNS: Final = (
    "position, event_id, stream, stream_rev, type, lamport, correlation_id, idempotency_key,"
    " prev_hash, hash, canonical"
)


RETRY_FOR_S: Final = 30.0
"""Ours: a publish unacknowledged during a leader election (seconds) is retried this long;
the same message id makes the retry exactly once."""
_RETRIED: Final = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)


async def _publish_acked(js: Any, subject: str, data: bytes, headers: dict[str, str]) -> None:  # noqa: ANN401
    """Publish until the stream acknowledges (retrying through a node loss or an election).

    Raises:
        DurableError: Still unacknowledged after ``RETRY_FOR_S`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + RETRY_FOR_S
    while True:
        try:
            await js.publish(subject, data, headers=headers, timeout=2)
        except _RETRIED as exc:
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


async def _ensure_stream(js: Any, log_id: str, replicas: int) -> None:  # noqa: ANN401
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


async def replicate(store: Path, urls: list[str], *, replicas: int = 3, start: int = 0) -> int:
    """Publish the store's identity, events from ``start`` and checkpoints; return events acked.

    Every publish is acknowledged by the stream's R``replicas`` quorum before it counts.

    Raises:
        DurableError: The cluster cannot be reached or the stream cannot be created.
    """
    conn, _origin = open_read_only(store)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        keys = [
            list(row)
            for row in conn.execute("SELECT key_id, vkey, created_ns, first_size FROM keys")
        ]
        events = conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE position >= ? ORDER BY position",  # noqa: S608 - constant columns
            (start,),
        ).fetchall()
        checkpoints = conn.execute(
            "SELECT size, root, note, key_id, wall_ns FROM checkpoints"
        ).fetchall()
    finally:
        conn.close()
    log_id = meta["log_id"]
    try:
        nc = await nats.connect(
            urls, connect_timeout=2, max_reconnect_attempts=60, reconnect_time_wait=0.1
        )
    except (OSError, nats.errors.NoServersError) as exc:
        raise DurableError(f"cannot reach the NATS cluster {urls}: {exc}") from None
    try:
        js = nc.jetstream(timeout=10)
        await _ensure_stream(js, log_id, replicas)
        subject = f"sentinel.{log_id}"
        identity = json.dumps({"meta": meta, "keys": keys}).encode()
        await _publish_acked(js, f"{subject}.meta", identity, {"Nats-Msg-Id": f"meta-{len(keys)}"})
        window = asyncio.Semaphore(WINDOW)

        async def one(row: tuple[Any, ...]) -> None:
            async with window:
                header = {"Nats-Msg-Id": row[1], "prev": row[8].hex(), "hash": row[9].hex()}
                await _publish_acked(js, f"{subject}.event", row[10], header)

        await asyncio.gather(*(one(row) for row in events))
        for size, root, note, key_id, wall_ns in checkpoints:
            await _publish_acked(
                js,
                f"{subject}.checkpoint",
                json.dumps(
                    {
                        "size": size,
                        "root": root.hex(),
                        "note": note,
                        "key_id": key_id,
                        "wall_ns": wall_ns,
                    }
                ).encode(),
                {"Nats-Msg-Id": f"checkpoint-{size}"},
            )
    finally:
        await nc.close()
    return len(events)


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
        messages: list[Any] = []
        while len(messages) < total:
            try:
                messages.extend(await sub.fetch(min(1000, total - len(messages)), timeout=10))
            except _RETRIED as exc:
                raise DurableError(f"the stream of log {log_id} stopped answering: {exc}") from None
        for message in messages:
            await message.ack()
    finally:
        await nc.close()
    return _write_mirror(target, log_id, messages)


def _write_mirror(target: Path, log_id: str, messages: list[Any]) -> int:
    conn = connect(target)
    try:
        conn.executescript(SCHEMA + TRIGGERS)
        with write_lock_transaction(conn):
            events = 0
            for message in messages:
                kind = message.subject.rsplit(".", 1)[1]
                if kind == "meta":
                    document = json.loads(message.data)
                    conn.executemany(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        document["meta"].items(),
                    )
                    conn.executemany(
                        "INSERT OR IGNORE INTO keys VALUES (?, ?, ?, ?)", document["keys"]
                    )
                elif kind == "event":
                    _insert_event(conn, message.headers, message.data)
                    events += 1
                elif kind == "checkpoint":
                    c = json.loads(message.data)
                    conn.execute(
                        "INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                        (c["size"], bytes.fromhex(c["root"]), c["note"], c["key_id"], c["wall_ns"]),
                    )
    finally:
        conn.close()
    return events


def _insert_event(conn: sqlite3.Connection, headers: dict[str, str], canonical: bytes) -> None:
    document = json.loads(canonical)
    conn.execute(
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
        (
            document["position"], document["event_id"], document["stream"], document["stream_rev"],
            document["type"], document["lamport"], document["correlation_id"],
            document["idempotency_key"], bytes.fromhex(headers["prev"]),
            bytes.fromhex(headers["hash"]), canonical,
        ),
    )  # fmt: skip
