"""The replication path before batching (main at ee63713), kept as the benches' reference.

One ``.event`` message per event (canonical bytes; prev and hash in headers; message id =
event id), every publish awaited, 2,000 in flight. The mirror still reads such streams.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final

import nats

from sentinel.audit.readonly import open_read_only
from sentinel.durable.replicate import ensure_stream, publish_acked

WINDOW: Final = 2000
"""The previous path's publishes in flight."""


async def replicate_one_by_one(store: Path, urls: list[str]) -> int:
    """Publish every event of ``store`` as its own acknowledged message; return events acked."""
    conn, _origin = open_read_only(store)
    try:
        log_id = conn.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0]
        events = conn.execute(
            "SELECT event_id, prev_hash, hash, canonical FROM events ORDER BY position"
        ).fetchall()
    finally:
        conn.close()
    nc = await nats.connect(urls, connect_timeout=2)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_stream(js, log_id, 3)
        window = asyncio.Semaphore(WINDOW)

        async def one(row: tuple[Any, ...]) -> None:
            async with window:
                header = {"Nats-Msg-Id": row[0], "prev": row[1].hex(), "hash": row[2].hex()}
                await publish_acked(js, f"sentinel.{log_id}.event", row[3], header)

        await asyncio.gather(*(one(row) for row in events))
    finally:
        await nc.close()
    return len(events)
