"""JetStream R3: acknowledged events/s of ``replicate``, and fault rounds with a SIGKILLed node.

Reported, not gated on absolute time (the machine is shared); the fault rounds assert that
no acknowledged event is lost and every mirror verifies.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from sentinel.audit import AuditStore, NewEvent, verify_store
from sentinel.durable.cluster import NatsCluster
from sentinel.durable.replicate import mirror, replicate

FAULT_ROUNDS = 10
EVENTS_PER_ROUND = 500


def _store(path: Path, events: int) -> str:
    with AuditStore(path, signing_key_path=path.with_suffix(".key"), witness=False) as store:
        store.append_batch(
            [
                NewEvent(f"agent/A-{i % 50}", "runtime.note", {"i": i, "text": "x" * 200})
                for i in range(events)
            ]
        )
        store.checkpoint()
        return str(store.meta()["log_id"])


def test_r3_acknowledged_events_per_second(benchmark: Any, tmp_path: Path) -> None:
    _store(tmp_path / "run.db", 5000)
    with NatsCluster() as cluster:
        started = time.perf_counter()
        acked = benchmark.pedantic(
            lambda: asyncio.run(replicate(tmp_path / "run.db", cluster.urls)),
            rounds=1,
            iterations=1,
        )
        rate = acked / (time.perf_counter() - started)
    benchmark.extra_info["acked_per_s"] = round(rate)
    print(f"\nJetStream R3 acknowledged events/s: {rate:,.0f} (goal 30,000)")
    assert acked == 5000


def test_fault_rounds_lose_no_acknowledged_event(tmp_path: Path) -> None:
    chooser = random.Random(17)  # noqa: S311 - a reproducible fault schedule, not a secret
    with NatsCluster() as cluster:
        for round_ in range(FAULT_ROUNDS):
            store = tmp_path / f"run{round_}.db"
            log_id = _store(store, EVENTS_PER_ROUND)
            victim = chooser.randrange(3)

            async def kill_midway(victim: int = victim, store: Path = store) -> int:
                task = asyncio.create_task(replicate(store, cluster.urls))
                await asyncio.sleep(chooser.uniform(0.01, 0.2))
                cluster.kill(victim)
                return await task

            # The R3 stream is created with all three nodes up (creation needs every peer);
            # the node dies while the events are being replicated.
            asyncio.run(replicate(store, cluster.urls, start=EVENTS_PER_ROUND))
            acked = asyncio.run(kill_midway())
            mirrored = asyncio.run(mirror(log_id, cluster.urls, tmp_path / f"m{round_}.db"))
            cluster.start(victim)
            assert acked == mirrored == EVENTS_PER_ROUND, (round_, acked, mirrored)
            assert verify_store(tmp_path / f"m{round_}.db", witness=False).ok
    print(f"\n{FAULT_ROUNDS} fault rounds: 0 acknowledged events lost")
