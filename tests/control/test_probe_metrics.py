"""The platform plane's kernel-probe metrics: windows, the stall signal, rules on them, replay.

The probe's counts are crafted here (:class:`Counts` speaks the session's two calls); the
real kernel probe feeding the same observer is in tests/probes/test_probe_platform.py.
"""

from __future__ import annotations

import math
from pathlib import Path

from sentinel.audit import AuditStore, NewEvent
from sentinel.control import Policy, decide
from sentinel.control.clock import VirtualClock
from sentinel.control.loop import ControlPlane
from sentinel.control.office import NoSandboxes, decision_event, policy_event
from sentinel.control.platform_plane import (
    PLATFORM_METRICS,
    PlatformActuator,
    PlatformObserver,
    Quarantine,
)
from sentinel.control.probe_window import PROBE_METRICS
from sentinel.control.replay import replay_control
from sentinel.probes import AgentTotals

MIB = 1 << 20


class Counts:
    """A probe session's totals and watched agents, set by the test."""

    def __init__(self) -> None:
        self.now: dict[str, AgentTotals] = {}
        self.watched: set[str] = set()

    def totals(self) -> dict[str, AgentTotals]:
        return dict(self.now)

    def watched_agents(self) -> set[str]:
        return set(self.watched)

    def add(self, agent_id: str, **counts: int) -> None:
        self.now[agent_id] = self.now.get(agent_id, AgentTotals()) + AgentTotals(**counts)


class Live:
    """A sandbox layer whose agents have a live sandbox (no process: nothing to read)."""

    def __init__(self, *agents: str) -> None:
        self.live = list(agents)

    def agents(self) -> list[str]:
        return list(self.live)

    def pid(self, agent_id: str) -> int | None:
        return None

    def failed(self, agent_id: str) -> bool:
        return False

    def warm(self, agent_id: str) -> bool:
        return True


def _command(agent_id: str, tick: int, layers: list[str] | None = None) -> NewEvent:
    payload = {"agent_id": agent_id, "argv": ["sh", "-c", "make"], "exit_code": 0,
               "cpu_s": 0.0, "max_rss_bytes": 0, "layers": layers or ["bwrap", "seccomp"]}  # fmt: skip
    return NewEvent(f"agent/{agent_id}", "sandbox.executed", payload, tick=tick)


def test_without_probes_every_probe_metric_is_unknown_and_no_probe_rule_fires() -> None:
    observer = PlatformObserver(Live("A"), Quarantine())
    observer.feed(5, [_command("A", 5), _command("A", 5)])
    seen = observer(60)
    assert set(seen.columns) >= PROBE_METRICS and PROBE_METRICS <= PLATFORM_METRICS
    assert all(math.isnan(seen.columns[m][0]) for m in PROBE_METRICS)
    assert not [f for f in decide(seen, Policy.default()) if f.rule.startswith("platform.probe")]


def test_counts_are_per_window_and_an_agent_busy_without_a_sandbox_gets_a_row() -> None:
    counts = Counts()
    observer = PlatformObserver(Live("A"), Quarantine(), probes=counts)
    counts.watched = {"A"}
    counts.add("A", execs=3, write_opens=2, write_bytes=5000, connects=1, refusals=4)
    counts.add("B", execs=1, write_bytes=10)  # its sandbox already gone
    first = observer(60)
    assert first.row("A").items() >= {
        "probe_execs": 3, "probe_write_opens": 2, "probe_write_bytes": 5000,
        "probe_connects": 1, "probe_refusals": 4,
    }.items()  # fmt: skip
    assert first.value("A", "probe_write_ratio") is None  # no baseline yet
    assert first.value("B", "probe_write_bytes") == 10 and first.value("B", "probe_stalled") is None
    counts.add("A", execs=1, write_bytes=500)
    second = observer(120)
    assert second.value("A", "probe_execs") == 1 and second.value("A", "probe_write_bytes") == 500
    assert second.value("A", "probe_write_ratio") == 0.1  # 500 over the first window's 5000
    assert "B" not in second.targets  # nothing new, no sandbox: no row
    counts.add("B", write_bytes=7)
    assert observer(180).value("B", "probe_write_bytes") == 7  # B's window still moved on


def test_stalled_means_commands_given_and_no_program_started() -> None:
    counts = Counts()
    counts.watched = {"A", "B", "C", "E"}
    observer = PlatformObserver(Live("A", "B", "C", "D"), Quarantine(), probes=counts)
    observer(0)
    # A: two commands, the kernel saw none start.  B: one command, one exec.  C: a WASI tool
    # only (runs in our process).  D: commands, but no group of it is watched.  E: a command
    # that timed out, its sandbox torn down (watched at the window's start only).
    observer.feed(10, [_command("A", 10), _command("A", 11), _command("B", 12),
                       _command("C", 13, ["wasmtime"]), _command("D", 14), _command("E", 15)])  # fmt: skip
    counts.add("B", execs=1)
    counts.watched.discard("E")
    seen = observer(60)
    assert seen.value("A", "probe_stalled") == 1
    assert seen.value("E", "probe_stalled") == 1
    assert seen.value("B", "probe_stalled") == 0
    assert seen.value("C", "probe_stalled") == 0
    assert seen.value("D", "probe_stalled") is None
    fired = [f for f in decide(seen, Policy.default()) if f.rule == "platform.probe_stalled"]
    assert [f.target for f in fired] == ["A", "E"]
    assert observer(120).value("A", "probe_stalled") == 0  # no command since: nothing expected


def test_a_write_burst_fires_only_over_its_baseline_and_size() -> None:
    counts = Counts()
    counts.watched = {"A"}
    observer = PlatformObserver(Live("A"), Quarantine(), probes=counts)
    policy = Policy.default()
    fired: list[int] = []
    for tick, written in enumerate([100_000] * 5 + [2 * MIB, 100_000], start=1):
        counts.add("A", write_bytes=written, execs=1)
        seen = observer(tick * 60)
        if any(f.rule == "platform.probe_write_burst" for f in decide(seen, policy)):
            fired.append(tick)
    assert fired == [6]


def test_replay_proves_the_decisions_made_on_probe_metrics(tmp_path: Path) -> None:
    text = Policy.default().text.decode()
    enforced = text.replace(
        'mode = "monitor"          # ours: counted until seen on real runs', 'mode = "enforce"'
    )
    assert enforced != text
    policy = Policy.from_text(enforced.encode(), "<test>")
    counts = Counts()
    counts.watched = {"A"}
    quarantine = Quarantine()
    clock = VirtualClock()
    observer = PlatformObserver(Live("A"), quarantine, probes=counts)
    plane = ControlPlane(
        "platform", policy, observer, PlatformActuator(NoSandboxes(), quarantine, clock),
        PLATFORM_METRICS, clock,
    )  # fmt: skip
    path = tmp_path / "run.db"
    with AuditStore(path) as store:
        store.append_batch([policy_event(policy)])
        for tick in range(0, 600, 60):
            clock.tick = tick
            observer.feed(tick, [_command("A", tick)])
            if tick != 120:  # at 120 the command started nothing
                counts.add("A", execs=2, write_bytes=4096)
            record = plane.tick()
            assert record is not None
            store.append_batch([decision_event(record)])
    assert plane.counters["action:restart"] == 1 and plane.counters["verdict:Successful"] == 1
    report = replay_control(path)
    assert report.equal, report.differences
    assert report.records == {"platform": 10}
