"""The platform plane: violation windows, quarantine in the main job, and real sandbox groups."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sentinel.audit import NewEvent
from sentinel.control import Command, Policy, sandbox_group
from sentinel.control.clock import VirtualClock
from sentinel.control.office import NoSandboxes, OfficeControl
from sentinel.control.platform_plane import PlatformActuator, PlatformObserver, Quarantine
from sentinel.control.sandbox_group import SandboxGroup, psi_some_avg10
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.warm import Sandbox
from tests.control.office import CONFIG, office
from tests.control.one_sandbox import OneSandbox


def _violation(agent_id: str, tick: int) -> NewEvent:
    return NewEvent(f"agent/{agent_id}", "sandbox.violation", {"agent_id": agent_id}, tick=tick)


def test_violations_count_in_a_sliding_window() -> None:
    observer = PlatformObserver(NoSandboxes(), Quarantine())
    observer.feed(10, [_violation("A", 10), _violation("A", 10)])
    first = observer(60)
    assert first.value("A", "violations_window") == 2 and first.value("A", "violations_new") == 2
    assert first.value("A", "write_ratio") is None  # no baseline yet
    second = observer(120)
    assert second.value("A", "violations_window") == 2 and second.value("A", "violations_new") == 0
    assert observer(3610).value("A", "violations_window") == 0  # an hour later
    assert observer(3670).value("A", "violations_window") is None  # and then no row at all


def test_red_team_agents_are_quarantined_in_the_main_job() -> None:
    engine = office(ticks=0, hours=2.0, compromised=0.2)
    engine.control = OfficeControl.for_run(engine, Policy.default())
    engine.run(7200)
    red = sorted(engine.red)
    summary = engine.control.summary()
    quarantined = [q for q in summary["quarantine"] if q["change"] == "quarantined"]
    assert sorted(q["agent_id"] for q in quarantined) == red
    assert all(
        q["rule"] == "platform.violations" and "violations" in q["reason"] for q in quarantined
    )
    assert summary["planes"]["platform"]["successful"] == len(red)
    assert summary["planes"]["platform"]["rollbacks"] == 0
    # Quarantined agents stop attacking: at most the two attacks that tripped the rule each.
    assert engine.counters["attacks"] <= 2 * len(red) + len(red)
    assert not any(engine.control.tools_on(agent_id) for agent_id in red)
    assert all(engine.control.tools_on(a) for a in engine.agents if a not in engine.red)


def test_a_quarantine_is_lifted_by_its_rollback() -> None:
    quarantine = Quarantine()
    actuator = PlatformActuator(NoSandboxes(), quarantine, VirtualClock(5))
    command = Command("platform/platform.violations/A/5", "quarantine", "A")
    assert actuator.act(command).status == "applied" and not quarantine.tools_on("A")
    assert actuator.rollback(command.key).status == "applied" and quarantine.tools_on("A")
    assert [h["change"] for h in quarantine.history] == ["quarantined", "lifted"]
    throttle = actuator.act(Command("platform/platform.cpu/A/6", "throttle", "A"))
    assert throttle.status == "error" and "no running sandbox" in throttle.detail


def test_psi_lines_are_read() -> None:
    text = "some avg10=12.50 avg60=1.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    assert psi_some_avg10(text) == 12.5
    assert psi_some_avg10(None) is None


HYBRID_SANDBOX = "12:pids:/sentinel-A-1\n4:memory:/sentinel-A-1\n0::/sentinel-A-1\n"
HYBRID_REAPED_LATER = "12:pids:/\n4:memory:/\n0::/sentinel-A-1\n"
"""A killed sandbox's outer process before it is reaped, as a hybrid host shows it."""


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (HYBRID_SANDBOX, "pids/sentinel-A-1"),
        (HYBRID_REAPED_LATER, None),
        ("0::/sentinel-A-1\n", "sentinel-A-1"),
        ("0::/\n", None),
    ],
)
def test_a_process_in_a_root_group_has_no_sandbox_group(
    text: str, found: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(text)
    monkeypatch.setattr(sandbox_group, "PROC", tmp_path)
    group = SandboxGroup.of_pid(7)
    if found is None:
        assert group is None
    else:
        assert group is not None and str(group._dir("pids")).endswith(found)


def _stopped(group: SandboxGroup) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = set()
        for pid in group.pids():
            stat = Path(f"/proc/{pid}/stat")
            states.add(stat.read_text().rsplit(")", 1)[1].split()[0] if stat.exists() else "T")
        if group.v2 and (group.dirs["v2"] / "cgroup.events").read_text().find("frozen 1") >= 0:
            return True
        if states and states <= {"T", "t"}:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.host
def test_a_real_sandbox_is_observed_throttled_tightened_frozen_and_quarantined(
    sandbox_base: Path,
) -> None:
    policy = SandboxPolicy.from_toml(CONFIG / "policies" / "agent.toml")
    with Sandbox(policy, "CTL-1", workspace=sandbox_base / "ws") as sandbox:
        assert sandbox.run(["true"]).exit_code == 0
        layer = OneSandbox(sandbox)
        quarantine = Quarantine()
        observer = PlatformObserver(layer, quarantine)
        observer(0)
        sandbox.run(["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
        seen = observer(60)
        assert 0 < (seen.value("CTL-1", "memory_ratio") or 0) < 1
        assert (seen.value("CTL-1", "pids") or 0) >= 1
        assert (seen.value("CTL-1", "cpu_share") or 0) > 0
        group = SandboxGroup.of_pid(sandbox.pid() or 0)
        assert group is not None and group.cpu_fraction() == 1.0  # cpu_percent = 100
        actuator = PlatformActuator(layer, quarantine, VirtualClock(60))
        throttle = Command(
            "platform/platform.cpu/CTL-1/60", "throttle", "CTL-1", {"cpu_percent": 25}
        )
        assert actuator.act(throttle).status == "applied" and group.cpu_fraction() == 0.25
        assert actuator.rollback(throttle.key).status == "applied" and group.cpu_fraction() == 1.0
        tighten = Command("platform/x/CTL-1/60", "tighten_budget", "CTL-1", {"pids": 9})
        before = group.pids_max()
        assert actuator.act(tighten).status == "applied" and group.pids_max() == "9"
        actuator.rollback(tighten.key)
        assert group.pids_max() == before
        freeze = Command("platform/platform.write_anomaly/CTL-1/60", "freeze", "CTL-1")
        assert actuator.act(freeze).status == "applied" and not quarantine.tools_on("CTL-1")
        assert _stopped(group)  # SIGSTOP on a v1 host, cgroup.freeze on v2
        actuator.rollback(freeze.key)
        assert quarantine.tools_on("CTL-1")
        assert sandbox.run(["true"]).exit_code == 0  # thawed: it answers again
        outer = sandbox.pid()
        quarantined = Command("platform/platform.violations/CTL-1/61", "quarantine", "CTL-1")
        assert actuator.act(quarantined).status == "applied"
        deadline = time.monotonic() + 5
        while group.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not group.pids() and outer is not None  # every process of the sandbox is gone
        # Its outer process, killed but not reaped yet, is in no sandbox group any more (on a
        # hybrid host its v1 lines read the root, whose cgroup.procs is the whole host).
        assert SandboxGroup.of_pid(outer) is None
        assert observer(120).value("CTL-1", "pids") is None
        assert not quarantine.tools_on("CTL-1")
