"""Bus-fed control planes: real runs on loopback Zenoh, the barrier, lost and altered input."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.agents import RunSummary, replay, run
from sentinel.agents.options import RunOptions
from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.events import Event
from sentinel.bus.run_hook import open_run_bus
from sentinel.control import bus_source
from sentinel.control.agent_feed import FedAgents
from sentinel.control.agent_plane import AGENT_METRICS
from sentinel.control.bus_source import BusEvents, BusGapError
from sentinel.errors import BusError, InvalidInputError
from tests.bus.loopback import free_endpoint

CONFIG = Path(__file__).resolve().parents[2] / "config"
FED_COLUMNS = {
    "agent": None,  # every column: the people's state, published in the committed batch
    "platform": ("violations_window", "violations_new", "writes", "write_ratio", "quarantined"),
    "api": None,  # every column: the gateway's learned patterns and the fed decisions
}
"""The observation columns that come from the fed events (the platform plane's others are
read from /proc: CPU, memory, io, PSI differ between any two live runs)."""
MEASURED = ("observation", "observation_digest", "previous")


def _options(tmp_path: Path, feed: str, **changes: Any) -> RunOptions:
    fields: dict[str, Any] = {
        "config": CONFIG, "agents": 12, "hours": 0.5, "seed": 7, "compromised": 0.25,
        "store": tmp_path / f"{feed}.db", "control_feed": feed,
    }  # fmt: skip
    return RunOptions(**{**fields, **changes})


def _decisions(store: Path) -> list[dict[str, Any]]:
    with AuditStore(store) as opened:
        return [event.payload for event in opened.read(type="control.decision")]


def _fed(record: dict[str, Any]) -> dict[str, Any]:
    observation = record.get("observation") or {"targets": [], "columns": {}}
    names = FED_COLUMNS.get(record["plane"], ())
    columns = observation["columns"]
    kept = {name: columns.get(name) for name in (columns if names is None else names)}
    return {"targets": observation["targets"], "columns": kept}


def test_bus_fed_planes_decide_as_the_committed_reference_and_replay(tmp_path: Path) -> None:
    reference = run(_options(tmp_path, "committed"))
    fed = run(_options(tmp_path, "bus"), bus=free_endpoint())
    assert reference.ok, reference.problems
    assert fed.ok, fed.problems
    assert fed.control["bus"]["received"] > 0  # the planes' input came over the bus
    expected, got = _decisions(Path(reference.store)), _decisions(Path(fed.store))
    assert len(got) == len(expected) > 0
    for want, have in zip(expected, got, strict=True):
        # What was decided, done, held and verified, iteration by iteration...
        assert {k: v for k, v in have.items() if k not in MEASURED} == {
            k: v for k, v in want.items() if k not in MEASURED
        }, (want["plane"], want["tick"])
        # ...and what the planes observed from the fed events.
        assert _fed(have) == _fed(want), (want["plane"], want["tick"])
    agent = [r for r in got if r["plane"] == "agent" and r["observation"]]
    assert any(r["observation"]["targets"] for r in agent)  # the people were observed
    assert [r["observation_digest"] for r in agent] == [
        r["observation_digest"] for r in expected if r["plane"] == "agent" and r["observation"]
    ]
    with AuditStore(Path(fed.store)) as store:
        states = list(store.read(type="agent.state"))
    # One state per agent-plane iteration after the first (which had no previous tick),
    # and one after the last tick if the plane would have been due (the run ended first).
    ticks = [r["tick"] for r in agent]
    assert [(s.tick or 0) + 1 for s in states if (s.tick or 0) < fed.ticks] == ticks[1:]
    assert not agent[0]["observation"]["targets"]
    acted = sum(len(record["actions"]) for record in got)
    assert acted > 0, "the red-team agents were never quarantined: nothing was decided"
    assert fed.control["quarantine"] == reference.control["quarantine"]
    report = replay(fed.store)
    assert report.equal, report.control_differences
    assert report.control_decisions == len(got)


def test_the_bus_feed_needs_the_planes_and_a_bus(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="needs the control planes"):
        _options(tmp_path, "bus", control=False)
    with pytest.raises(InvalidInputError, match="must be tick, committed or bus"):
        _options(tmp_path, "later")
    with pytest.raises(BusError, match="needs a bus endpoint"):
        run(_options(tmp_path, "bus"))
    assert not (tmp_path / "bus.db").exists()  # nothing ran: a retry needs no --overwrite
    recorded = _options(tmp_path, "bus").to_record()
    assert RunOptions.from_record(recorded).control_feed == "bus"
    del recorded["control_feed"]  # recorded before the feeds existed: the tick's own events
    assert RunOptions.from_record(recorded).control_feed == "tick"


def _store(tmp_path: Path) -> AuditStore:
    return AuditStore(tmp_path / "run.db", signing_key_path=tmp_path / "key", witness=False)


def _batch(n: int) -> list[NewEvent]:
    return [
        NewEvent(f"agent/A-{i}", "sandbox.violation",
                 {"agent_id": f"A-{i}", "layer": "seccomp", "attempt": "ptrace"}, tick=3)
        for i in range(n)
    ]  # fmt: skip


@contextlib.contextmanager
def _planes_on_bus(tmp_path: Path, planes: BusEvents) -> Iterator[AuditStore]:
    """A store whose run's bus ``planes`` is attached to; both closed on the way out."""
    with _store(tmp_path) as store:
        live = open_run_bus(free_endpoint(), store, required=True)
        assert live is not None
        try:
            planes.attach(live)
            yield store
        finally:
            planes.close()
            live.close()


def test_the_barrier_returns_a_batch_as_committed(tmp_path: Path) -> None:
    planes = BusEvents(timeout=5.0)
    with _planes_on_bus(tmp_path, planes) as store:
        store.append("gateway", "gateway.note", {"agent_id": "A-9"})  # of no batch
        stored = store.append_batch(_batch(6))
        got = planes.barrier(stored[0].position, stored[-1].position, stored[-1].hash)
        assert got == stored


class _Lossy(BusEvents):
    """Loses (or alters) the sample at one position, as a broken link or publisher would."""

    lost: int = -1
    altered: int = -1

    def _receive(self, wait: float) -> int | None:
        got = super()._receive(wait)
        self._samples.pop(self.lost, None)
        sample = self._samples.get(self.altered)
        if sample is not None:
            sample["canonical"] = sample["canonical"].replace("ptrace", "ptracf")
        return got


def test_a_lost_or_altered_message_is_detected_never_decided_on(tmp_path: Path) -> None:
    planes = _Lossy(timeout=0.5)
    with _planes_on_bus(tmp_path, planes) as store:
        stored = store.append_batch(_batch(5))
        planes.lost = stored[2].position
        with pytest.raises(BusGapError, match="did not arrive whole") as lost:
            planes.barrier(stored[0].position, stored[-1].position, stored[-1].hash)
        assert lost.value.missing == [stored[2].position]
        assert lost.value.corrupt == []
        stored = store.append_batch(_batch(5))
        planes.altered = stored[1].position
        with pytest.raises(BusGapError) as altered:
            planes.barrier(stored[0].position, stored[-1].position, stored[-1].hash)
        # The altered sample fails its hash check: the batch is refused whole.
        assert altered.value.corrupt == [stored[1].position]
        assert altered.value.missing == []
        # A batch whose last hash is not the committed one is refused too.
        stored = store.append_batch(_batch(3))
        with pytest.raises(BusGapError):
            planes.barrier(stored[0].position, stored[-1].position, b"\0" * 32)


def _run_losing_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event_type: str, from_tick: int
) -> tuple[RunSummary, list[int], list[Event]]:
    """A bus-fed run whose planes never receive the first ``event_type`` sample at or after
    ``from_tick``: its summary, the lost position and the gaps the run recorded."""
    lost: list[int] = []
    receive = BusEvents._receive

    def lossy(self: BusEvents, wait: float) -> int | None:
        got = receive(self, wait)
        for position, sample in list(self._samples.items()):
            if not lost and sample["type"] == event_type and sample["tick"] >= from_tick:
                lost.append(position)
            if position in lost:
                del self._samples[position]
        return got

    monkeypatch.setattr(BusEvents, "_receive", lossy)
    monkeypatch.setattr(bus_source, "BARRIER_TIMEOUT_S", 0.5)
    summary: RunSummary = run(_options(tmp_path, "bus", hours=0.2), bus=free_endpoint())
    assert lost
    assert not summary.ok
    assert summary.interrupted  # the run did not go on ungoverned
    assert summary.chain_verified  # stopped cleanly: checkpointed and verified
    with AuditStore(summary.store) as store:
        gaps = list(store.read(type="control.bus_gap"))
    assert len(gaps) == 1
    assert gaps[0].payload["missing"] == lost
    return summary, lost, gaps


def test_a_run_whose_planes_lose_a_message_stops_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first plane decision after the first minute.
    summary, _, gaps = _run_losing_first(tmp_path, monkeypatch, "control.decision", 61)
    assert any("the control planes stopped" in problem for problem in summary.problems)
    halted_at = gaps[0].payload["tick"]
    decided = [p["tick"] for p in _decisions(Path(summary.store)) if p["observation_digest"]]
    assert decided
    # No plane iteration on or after the broken input (the run's closing records, which
    # only close open verifications, carry no observation).
    assert max(decided) < halted_at


def test_a_run_whose_agent_state_is_lost_stops_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, lost, gaps = _run_losing_first(tmp_path, monkeypatch, "agent.state", 100)
    with AuditStore(summary.store) as store:
        (state,) = [e for e in store.read(type="agent.state") if e.position in lost]
    assert gaps[0].payload["tick"] == (state.tick or 0) + 1  # the tick that would have observed it
    decided = [p for p in _decisions(Path(summary.store)) if p["observation_digest"]]
    assert max(p["tick"] for p in decided) < gaps[0].payload["tick"]


def _state(tick: int, changes: dict[str, Any] | None = None) -> Event:
    payload: dict[str, Any] = {
        "tick": tick,
        "agents": ["A-1"],
        "columns": {name: [1.0] for name in AGENT_METRICS},
        **(changes or {}),
    }
    new = NewEvent("agent", "agent.state", payload, tick=tick)
    return Event(
        event_id="e", position=5, stream=new.stream, stream_rev=0, type=new.type,
        payload=dict(new.payload), lamport=0, node="n", wall_ns=0, tick=tick, correlation_id=None,
        causation_id=None, idempotency_key=None, prev_hash=b"\0" * 32, hash=b"\1" * 32,
        canonical=b"{}",
    )  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"tick": 8},  # not the previous tick's state
        {"tick": "9"},
        {"agents": "A-1"},
        {"columns": {"hunger": [1.0]}},  # metrics missing
        {"columns": {name: [] for name in AGENT_METRICS}},  # a row short
        {"columns": {name: ["x"] for name in AGENT_METRICS}},
    ],
)
def test_a_malformed_agent_state_is_a_gap_never_observed(changes: dict[str, Any]) -> None:
    fed = FedAgents()
    fed.published(9)
    with pytest.raises(BusGapError, match="does not parse") as gap:
        fed.feed(10, [_state(9, changes)])
    assert gap.value.corrupt == [5]


def test_the_agent_state_published_must_be_fed() -> None:
    fed = FedAgents()
    assert fed(1).targets == ()  # the first tick: nothing published, nobody observed
    fed.published(9)
    with pytest.raises(BusGapError, match="not in the committed batch"):
        fed.feed(10, [])
    fed.published(9)
    fed.feed(10, [_state(9)])
    observed = fed(10)
    assert observed.targets == ("A-1",)
    assert set(observed.columns) == AGENT_METRICS
    fed.feed(11, [_state(10)])  # not published by the planes: not observed
    assert fed(11).targets == ()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--control-feed", "bus"], "--control-feed bus needs --bus ENDPOINT"),
        (["run", "--control-feed", "committed", "--hosts", "2"], "--hosts runs no control"),
        (["run", "--control-feed", "soon"], "must be tick, committed or bus"),
        (["dashboard", "--run", "r-1"], "--run names a run on the bus"),
    ],
)
def test_the_cli_refuses_what_does_not_go_together(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from sentinel.cli.application import app  # noqa: PLC0415

    result = CliRunner().invoke(app, [*argv, "--store", str(tmp_path / "r.db")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "r.db").exists()
