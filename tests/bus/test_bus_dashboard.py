"""The bus-fed dashboard: a real run publishes on loopback Zenoh, the dashboard reads it."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from sentinel.agents import run
from sentinel.agents.options import RunOptions
from sentinel.audit import AuditStore
from sentinel.bus.run_hook import RunBus, open_run_bus
from sentinel.dashboard.bus_feed import BusFeed
from sentinel.dashboard.feed import EventFeed
from sentinel.dashboard.live import start_live
from sentinel.errors import BusError
from tests.bus.loopback import free_endpoint, wait_until

CONFIG = Path(__file__).resolve().parents[2] / "config"
TOKEN = "operator-token-for-the-test-0123456789"  # noqa: S105 - a test's token
EVERYTHING = 1_000_000


def test_a_runs_events_reach_the_dashboard_through_the_bus_in_order(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    feed = BusFeed()
    dashboard = start_live(store, CONFIG, port=0, token=TOKEN, feed=feed)
    attached: list[RunBus] = []

    def attach(live: RunBus) -> None:
        feed.attach(live)
        attached.append(live)

    try:
        options = RunOptions(
            config=CONFIG, agents=20, hours=0.05, seed=7, store=store, staggered=False
        )
        summary = run(options, bus=free_endpoint(), on_bus=attach)
        assert summary.chain_verified
        assert attached  # the feed subscribed before the run's first event
        stored = EventFeed(store).read(-1, EVERYTHING)
        types = {row["type"] for row in stored}
        assert {"gateway.decision", "sandbox.executed", "runtime.finished"} <= types, types
        wait_until(lambda: feed.head() == stored[-1]["position"], seconds=10.0)
        received = feed.read(-1, EVERYTHING)
        # Every event, in position order, with the evidence as the store holds it: the
        # browser's chain check sees exactly what it sees when reading the store.
        assert received == stored
        assert feed.late == 0
        with urllib.request.urlopen(f"{dashboard.url}api/events?after=-1", timeout=10) as r:  # noqa: S310 - loopback
            served = json.loads(r.read())
        assert served == stored[: len(served)]
        assert served[0]["position"] == 0
    finally:
        dashboard.stop()


def test_the_dashboard_reads_only_what_the_store_committed(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "run.db", signing_key_path=tmp_path / "key", witness=False) as s:
        live = open_run_bus(free_endpoint(), s, required=True)
        assert live is not None
        feed = BusFeed()
        try:
            feed.attach(live)
            assert feed.head() == -1
            for n in range(20):
                agent = f"A-{n % 3}"
                s.append(
                    f"agent/{agent}", "sandbox.violation",
                    {"agent_id": agent, "layer": "seccomp", "attempt": "ptrace"},
                )  # fmt: skip
            live.publisher.publish_tick(1, {"on_duty": 3})  # not an event: skipped
            wait_until(lambda: feed.head() == 19, seconds=10.0)
            assert [row["position"] for row in feed.read(-1)] == list(range(20))
            assert feed.read(14, limit=3) == EventFeed(s.path).read(14, limit=3)
            wait_until(
                lambda: feed.head() == 19 and feed.skipped == 1, seconds=10.0
            )  # counted as read
        finally:
            feed.close()
            live.close()


def test_a_bus_that_cannot_open_is_an_error_before_the_run(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = f"tcp/127.0.0.1:{taken.getsockname()[1]}"
        options = RunOptions(config=CONFIG, agents=8, hours=0.02, seed=7, store=store)
        with pytest.raises(BusError, match="cannot open a bus session"):
            run(options, bus=endpoint, on_bus=BusFeed().attach)
    assert not store.exists()  # nothing ran: a retry needs no --overwrite
    with pytest.raises(BusError, match="needs a bus endpoint"):
        run(options, on_bus=BusFeed().attach)


def test_the_cli_refuses_dashboard_from_bus_without_a_bus(tmp_path: Path) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from sentinel.cli.application import app  # noqa: PLC0415

    result = CliRunner().invoke(
        app, ["run", "--store", str(tmp_path / "r.db"), "--dashboard", "--dashboard-from-bus"]
    )
    assert result.exit_code != 0
    assert "--dashboard-from-bus needs --dashboard and --bus" in result.output
