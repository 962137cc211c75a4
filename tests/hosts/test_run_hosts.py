"""``run --hosts N`` for real: worker processes in their own network namespaces.

Each run here is a few simulated minutes of 20 agents on 2 worker hosts (well under a
minute on a loaded 2-core machine). Namespaces are made with unique names and must be
gone after every run, however it ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pytest

from sentinel.agents import RunOptions, RunSummary, replay
from sentinel.agents.runtime import Engine
from sentinel.audit import AuditStore, verify_store
from sentinel.hosts import remote
from sentinel.hosts.fleet import host_store
from sentinel.hosts.merged import check_merged, merged_table, query_merged
from sentinel.hosts.run import run_hosts

pytestmark = [pytest.mark.host, pytest.mark.timeout(180)]

CONFIG = Path(__file__).resolve().parents[2] / "config"
AGENTS = 20
MINUTES = 3


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    mine = f"-{os.getpid()}-"
    return {line.split()[0] for line in listed.stdout.splitlines() if mine in line}


def _run(
    base: Path,
    name: str,
    on_tick: Callable[[Engine], None] | None = None,
    *,
    minutes: float = MINUTES,
    staggered: bool = False,
) -> tuple[RunSummary, Path]:
    # Everyone present from the first tick (not walking in over half an hour): these few
    # minutes are about the hosts, and every host must have agents at work.
    store = base / f"{name}.db"
    options = RunOptions(
        config=CONFIG, agents=AGENTS, hours=minutes / 60, store=store, staggered=staggered
    )
    summary = run_hosts(options, 2, on_tick=on_tick)
    assert not _namespaces(), "a host namespace outlived its run"
    return summary, store


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunSummary, Path]:
    return _run(tmp_path_factory.mktemp("hosts"), "first")


def test_two_hosts_run_the_agents_each_in_its_own_chain(
    two_hosts: tuple[RunSummary, Path],
) -> None:
    summary, store = two_hosts
    assert summary.ok and summary.chain_verified and not summary.interrupted
    assert summary.agents > AGENTS // 2 and summary.decisions
    assert [h["lost"] for h in summary.hosts] == [None, None]
    log_ids = set()
    placed: list[set[str]] = []
    for host in (1, 2):
        path = host_store(store, host)
        assert verify_store(path).ok
        with AuditStore(path, create=False) as opened:
            log_ids.add(opened.meta()["log_id"])
            agents = {e.payload["agent_id"] for e in opened.read(type="gateway.decision")}
            nodes = {e.node for e in opened.read(limit=50)}
        assert agents
        placed.append(agents)
        assert nodes == {f"host{host}"}
    assert not placed[0] & placed[1]  # each agent decided on its one host
    assert len(log_ids) == 2  # each host its own log id (and signing key)
    with AuditStore(store, create=False) as opened:
        log_ids.add(opened.meta()["log_id"])
        (hosts,) = [e.payload["hosts"] for e in opened.read(type="runtime.hosts")]
    assert len(log_ids) == 3
    assert [h["agents"] for h in hosts] == [AGENTS // 2, AGENTS // 2]


def test_the_world_is_deterministic_whatever_the_hosts_timing(
    two_hosts: tuple[RunSummary, Path], tmp_path: Path
) -> None:
    first, store = two_hosts
    second, _ = _run(tmp_path, "second")
    assert first.state_hash == second.state_hash
    # The coordinator's record alone replays it: every answer was applied in its order.
    report = replay(store)
    assert report.equal and report.replayed_hash == first.state_hash
    assert first.decisions == second.decisions and first.tool_calls == second.tool_calls


def test_the_merged_view_orders_every_host_by_lamport_time(
    two_hosts: tuple[RunSummary, Path],
) -> None:
    summary, store = two_hosts
    report = check_merged(store)
    assert report.ok, report.problems
    assert report.events == summary.events == merged_table(store).num_rows
    merged = merged_table(store)
    keys = list(zip(merged.column("lamport").to_pylist(), merged.column("host").to_pylist(),
                    strict=True))  # fmt: skip
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(merged.column("host").to_pylist()) == {0, 1, 2}
    # Cause before effect across hosts: each tool result the coordinator recorded comes
    # after the sandbox run on the agent's host that produced it.
    rows = merged.to_pylist()
    executed: dict[tuple[str, int], int] = {}
    for row in rows:
        if row["type"] == "sandbox.executed":
            agent = json.loads(row["payload"])["agent_id"]
            executed.setdefault((agent, row["tick"]), row["lamport"])
    results = [r for r in rows if r["type"] == "runtime.tool_result" and r["host"] == 0]
    assert results
    for row in results:
        payload = json.loads(row["payload"])
        if payload["tool"].startswith("wasm:"):
            continue
        assert executed[(payload["agent_id"], row["tick"])] < row["lamport"]
    counted = query_merged(
        "SELECT host, count(*) AS n FROM events GROUP BY host ORDER BY host", store
    )
    assert sum(counted.column("n").to_pylist()) == summary.events


def test_a_tampered_host_chain_breaks_the_merged_check(
    two_hosts: tuple[RunSummary, Path], tmp_path: Path
) -> None:
    _, store = two_hosts
    copy = tmp_path / store.name
    for path in (store, host_store(store, 1), host_store(store, 2)):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(host_store(copy, 2)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        triggers = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        ]
        for trigger in triggers:
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DELETE FROM events WHERE position = 3")
    report = check_merged(copy)
    assert not report.ok
    assert any("host 2" in problem for problem in report.problems)


def test_a_worker_killed_mid_run_loses_nothing_acknowledged(tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_host_one(engine: Engine) -> None:
        if engine.world.tick == 90 and not killed:
            backend = engine.backend
            assert isinstance(backend, remote.RemoteBackend)
            link = backend.links[0]
            killed.append(link.acknowledged)
            os.kill(link.process.pid, signal.SIGKILL)

    summary, store = _run(tmp_path, "killed", kill_host_one)
    assert killed, "the fault never fired"
    assert summary.ok and summary.chain_verified and not summary.interrupted
    lost = {h["host"]: h for h in summary.hosts}
    assert lost[1]["lost"] and lost[2]["lost"] is None
    assert lost[1]["acknowledged"] >= killed[0] > 0
    report = check_merged(store)  # every chain verifies; nothing acknowledged is missing
    assert report.ok, report.problems
    with AuditStore(store, create=False) as opened:
        (event,) = list(opened.read(type="runtime.host_lost"))
    moved = event.payload["moved"]
    assert moved and set(moved.values()) == {2}
    with AuditStore(host_store(store, 1), create=False) as opened:
        assert opened.head()[0] >= lost[1]["acknowledged"]
    # The moved agents go on working on host 2, after the loss.
    merged = merged_table(store)
    later = merged.filter(
        pc.and_(
            pc.equal(merged.column("host"), 2),
            pc.greater(merged.column("lamport"), event.lamport),
        )
    )
    agents = {json.loads(p)["agent_id"] for p, t in zip(later.column("payload").to_pylist(),
              later.column("type").to_pylist(), strict=True) if t == "gateway.decision"}  # fmt: skip
    assert agents & set(moved)
    assert summary.state_hash  # the run finished its hour


PARTITION_TABLE = "sentinel_test_partition"
PARTITION_S = 3.0


def _nft(namespace: str, *args: str, script: str | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, "nft", *args],
        input=script, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def test_a_partition_that_heals_loses_nothing_and_changes_nothing(
    two_hosts: tuple[RunSummary, Path], tmp_path: Path
) -> None:
    """nftables drops everything between host 1 and the hub for a few seconds mid-run."""
    reference, _ = two_hosts
    dropped: list[int] = []
    healer: list[threading.Timer] = []

    def heal(namespace: str) -> None:
        listed = json.loads(_nft(namespace, "-j", "list", "table", "inet", PARTITION_TABLE))
        rules = [item["rule"] for item in listed["nftables"] if "rule" in item]
        dropped.append(
            sum(e["counter"]["packets"] for rule in rules for e in rule["expr"] if "counter" in e)
        )
        _nft(namespace, "delete", "table", "inet", PARTITION_TABLE)

    def partition(engine: Engine) -> None:
        if engine.world.tick == 60 and not healer:
            backend = engine.backend
            assert isinstance(backend, remote.RemoteBackend)
            namespace = backend.links[0].namespace
            _nft(namespace, "-f", "-", script=(
                f"table inet {PARTITION_TABLE} {{\n"
                "  chain in { type filter hook input priority -10; iifname eth0 counter drop; }\n"
                "  chain out { type filter hook output priority -10; oifname eth0 counter drop; }\n"
                "}\n"
            ))  # fmt: skip
            healer.append(threading.Timer(PARTITION_S, heal, (namespace,)))
            healer[0].start()

    try:
        summary, store = _run(tmp_path, "partitioned", partition)
    finally:
        for timer in healer:
            timer.join()
    assert dropped and dropped[0] > 0, "the partition dropped nothing (negative control)"
    assert summary.ok and [h["lost"] for h in summary.hosts] == [None, None]
    assert summary.state_hash == reference.state_hash  # the same world, only later
    assert summary.events == reference.events
    report = check_merged(store)
    assert report.ok, report.problems


def test_a_host_whose_agents_have_not_arrived_finishes_with_an_empty_chain(
    tmp_path: Path,
) -> None:
    """One minute of staggered arrivals: a host may get nothing to do; the run still ends ok."""
    summary, store = _run(tmp_path, "early", minutes=1, staggered=True)
    assert summary.ok and summary.chain_verified and not summary.interrupted
    assert [h["lost"] for h in summary.hosts] == [None, None]
    sizes = []
    for host in (1, 2):
        assert verify_store(host_store(store, host)).ok
        with AuditStore(host_store(store, host), create=False) as opened:
            sizes.append(opened.head()[0])
    assert 0 in sizes  # the case this test is for: a host with no event at all
