"""JetStream R3: acknowledged events/s of ``replicate``, and fault rounds with a SIGKILLed node.

The batched path (512 events a message, 16 messages in flight) is timed against the previous
path in the same run (``benches/jetstream_previous_path.py``: one event per message, 2,000
awaited publishes in flight), three fresh stores each. Each timed replication goes to a fresh
store's stream, created beforehand (stream creation is once per run, not per event); a
repeat into the same stream would only measure de-duplication. The gate is the ratio; the
absolute rate is reported beside the goal (30,000/s), not asserted: the machine is shared.
The fault rounds assert that no acknowledged event is lost and every mirror verifies.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.jetstream_previous_path import replicate_one_by_one
from sentinel.audit import AuditStore, NewEvent, verify_store
from sentinel.durable.cluster import NatsCluster
from sentinel.durable.replicate import mirror, replicate

FAULT_ROUNDS = 10
EVENTS_PER_ROUND = 5000
"""About ten messages: the node dies with most of them in flight."""
BATCHED_EVENTS = 50_000
REFERENCE_EVENTS = 10_000
"""The previous path measured 450 to 14,000 events/s here, depending on the load."""
MIN_SPEEDUP = 5.0
"""Ours: the batched path must beat the previous path by this factor in the same run
(measured 10-20x; the margin absorbs the other helpers' load on the 2 shared cores)."""
GOAL_PER_S = 30_000
"""Issue 17's goal for acknowledged R3 events/s."""
RATES: dict[str, float] = {}
_STORES = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[NatsCluster]:
    with NatsCluster() as running:
        yield running


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


def _rate(
    benchmark: Any,
    cluster: NatsCluster,
    directory: Path,
    events: int,
    replicate_store: Callable[[Path, list[str]], Coroutine[Any, Any, int]],
) -> float:
    """Median acknowledged events/s over fresh stores (each store's stream made beforehand)."""

    def fresh() -> tuple[tuple[Path], dict[str, Any]]:
        store = directory / f"run{next(_STORES)}.db"
        _store(store, events)
        asyncio.run(replicate(store, cluster.urls, start=events))  # stream, identity, notes
        return (store,), {}

    def timed(store: Path) -> int:
        return asyncio.run(replicate_store(store, cluster.urls))

    acked = benchmark.pedantic(timed, setup=fresh, rounds=3, iterations=1)
    assert acked == events
    rate = float(events / benchmark.stats.stats.median)
    benchmark.extra_info["acked_per_s"] = round(rate)
    return rate


def test_r3_batched_acknowledged_events_per_second(
    benchmark: Any, cluster: NatsCluster, tmp_path: Path
) -> None:
    benchmark.group = "jetstream-r3"
    RATES["batched"] = _rate(benchmark, cluster, tmp_path, BATCHED_EVENTS, replicate)
    print(
        f"\nJetStream R3 acknowledged events/s, batched: {RATES['batched']:,.0f}"
        f" (goal {GOAL_PER_S:,})"
    )


def test_r3_previous_path_reference(benchmark: Any, cluster: NatsCluster, tmp_path: Path) -> None:
    benchmark.group = "jetstream-r3"
    RATES["previous"] = _rate(benchmark, cluster, tmp_path, REFERENCE_EVENTS, replicate_one_by_one)
    print(f"\nJetStream R3 acknowledged events/s, previous path: {RATES['previous']:,.0f}")


def test_batching_beats_the_previous_path() -> None:
    if not {"batched", "previous"} <= RATES.keys():
        pytest.fail("run the whole file: both JetStream rates are needed for the ratio")
    speedup = RATES["batched"] / RATES["previous"]
    print(f"\nbatched / previous path: {speedup:.1f}x")
    assert speedup >= MIN_SPEEDUP


def test_fault_rounds_lose_no_acknowledged_event(cluster: NatsCluster, tmp_path: Path) -> None:
    chooser = random.Random(17)  # noqa: S311 - a reproducible fault schedule, not a secret
    for round_ in range(FAULT_ROUNDS):
        store = tmp_path / f"fault{round_}.db"
        log_id = _store(store, EVENTS_PER_ROUND)
        victim = chooser.randrange(3)
        kill_after = chooser.randrange(1, 4) * 512  # events acknowledged before the kill
        killed: list[int] = []

        def kill_midway(
            acked: int, victim: int = victim, after: int = kill_after, killed: list[int] = killed
        ) -> None:
            if acked >= after and not killed:
                cluster.kill(victim)
                killed.append(acked)

        try:
            # The R3 stream is created with all three nodes up (creation needs every peer);
            # the node dies while the events are being replicated, messages in flight.
            asyncio.run(replicate(store, cluster.urls, start=EVENTS_PER_ROUND))
            acked = asyncio.run(replicate(store, cluster.urls, on_acked=kill_midway))
            mirrored = asyncio.run(mirror(log_id, cluster.urls, tmp_path / f"m{round_}.db"))
        finally:
            if cluster.processes[victim] is None:
                cluster.start(victim)
        assert killed and killed[0] < EVENTS_PER_ROUND, (round_, killed)
        assert acked == mirrored == EVENTS_PER_ROUND, (round_, acked, mirrored)
        assert verify_store(tmp_path / f"m{round_}.db", witness=False).ok
    print(f"\n{FAULT_ROUNDS} fault rounds: 0 acknowledged events lost")
