"""The whole breakout suite, for real, on this host: every attempt blocked, every control
that can escape escapes, every blocked attempt audited, the reports well-formed.

In CI a layer that is missing makes these tests fail (the suite refuses to run), never skip.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.audit.verify import verify_store
from sentinel.breakout import ALL, Family, Scenario, SuiteReport, run_suite, write_all
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.workspace import scratch_dir

pytestmark = pytest.mark.host

POLICY = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"


@pytest.fixture(scope="module")
def store_dir() -> Iterator[Path]:
    with scratch_dir("sentinel-breakout-test") as path:
        yield path


HOST_PLACES = (Path("/tmp"), Path("/dev/shm"), Path("/usr/local/share"), Path("/var/tmp"))


def _host_traces() -> set[str]:
    """What a suite could leave on the host: files in shared places, mounts, namespaces."""
    found = {str(p) for place in HOST_PLACES for p in place.iterdir()}
    found |= {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    netns = Path("/run/netns")
    found |= {f"netns:{p.name}" for p in netns.iterdir()} if netns.exists() else set()
    return found


@pytest.fixture(scope="module")
def traces_before() -> set[str]:
    return _host_traces()


@pytest.fixture(scope="module")
def report(store_dir: Path, traces_before: set[str]) -> SuiteReport:
    return run_suite(SandboxPolicy.from_toml(POLICY), list(ALL), store_path=store_dir / "audit.db")


def test_the_suite_leaves_nothing_on_the_host(
    report: SuiteReport, traces_before: set[str], store_dir: Path
) -> None:
    new = _host_traces() - traces_before
    # Only what this run can be told by: its marker, its arena, this process's gateway
    # namespace (other suites may run at the same time on a shared machine).
    ours = (report.marker, report.arena, f"gw-{os.getpid()}-")
    left = {t for t in new if any(mark in t for mark in ours) and not t.startswith(str(store_dir))}
    assert report.marker and report.arena
    assert left == set()


def test_the_catalogue_covers_every_family_with_at_least_60_scenarios() -> None:
    assert len(ALL) >= 60
    assert {s.family for s in ALL} == set(Family)
    assert len({s.id for s in ALL}) == len(ALL)
    for scenario in ALL:
        assert scenario.id.split("-")[0] in {"fs", "proc", "priv", "net", "res", "persist", "kern"}
        assert scenario.expected_layers, scenario.id


def test_nothing_escapes_and_every_verdict_is_blocked_or_honestly_inconclusive(
    report: SuiteReport,
) -> None:
    got_out = {
        r.scenario.id: r.outcome.evidence
        for r in report.scenarios
        if r.verdict in ("escaped", "error") or r.outcome.result in ("escaped", "error")
    }
    assert got_out == {}
    assert len(report.scenarios) == len(ALL)
    # Blocked is earned: exactly the scenarios whose control escaped on this host.
    for r in report.scenarios:
        assert (r.verdict == "blocked") == r.control_escaped, (r.scenario.id, r.verdict_reason)
    assert report.exit_code == (3 if report.inconclusive else 0)
    assert report.ok == (not report.inconclusive)


def test_every_control_that_can_escape_escapes(report: SuiteReport) -> None:
    failed = {
        r.scenario.id: r.control.outcome.evidence
        for r in report.scenarios
        if r.control.outcome is not None and r.control.outcome.result != "escaped"
    }
    assert failed == {}
    for r in report.scenarios:  # a control either ran, or says why it cannot run here
        assert (r.control.outcome is None) == bool(r.control.skipped_because), r.scenario.id
    skipped = [r for r in report.scenarios if r.control.outcome is None]
    assert {r.scenario.id for r in report.inconclusive} == {r.scenario.id for r in skipped}
    assert len(skipped) < len(report.scenarios) // 5  # controls are the rule, not the exception
    assert not report.failed


def test_every_blocked_attempt_is_a_violation_of_its_agent_in_a_verified_trail(
    report: SuiteReport, store_dir: Path
) -> None:
    with AuditStore(store_dir / "audit.db") as store:
        violations = list(store.read(type="sandbox.violation"))
    assert verify_store(store_dir / "audit.db").ok
    ours = [
        e for e in violations if str(e.payload["detail"]).startswith(("blocked:", "inconclusive:"))
    ]  # the suite's verdicts (the layers record their own violations too)
    attributed = {e.payload["agent_id"]: str(e.payload["detail"]).split(":", 1)[0] for e in ours}
    assert len(ours) == len(report.scenarios)
    assert attributed == {f"breakout-{r.scenario.id}": r.verdict for r in report.scenarios}
    by_agent = {e.payload["agent_id"]: e for e in ours}
    for r in report.scenarios:
        event = by_agent[f"breakout-{r.scenario.id}"]
        assert event.stream == f"agent/breakout-{r.scenario.id}"
        assert r.scenario.id in event.payload["attempt"]


def test_the_reports_follow_the_documented_schema(report: SuiteReport, tmp_path: Path) -> None:
    paths = write_all(report, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert {"kernel", "landlock_abi", "bwrap_version", "cgroup_layout"} <= set(data["host"])
    for row in data["scenarios"]:
        assert {"id", "family", "attempt", "expected_layers", "result", "evidence"} <= set(row)
        assert row["verdict"] in ("blocked", "inconclusive")
        assert row["evidence_source"] in ("host", "self-reported")
        assert row["result"] in ("blocked", "inconclusive")
        control = row["negative_control"]
        assert ("result" in control and "evidence" in control) or "skipped_because" in control
    cases = ET.parse(paths["junit"]).getroot().findall(".//testcase")
    assert len(cases) == len(report.scenarios)
    assert not ET.parse(paths["junit"]).getroot().findall(".//failure")
    skipped = ET.parse(paths["junit"]).getroot().findall(".//skipped")
    assert len(skipped) == len(report.inconclusive)
    assert data["summary"]["blocked"] + data["summary"]["inconclusive"] == len(report.scenarios)
    markdown = paths["markdown"].read_text()
    assert all(f"`{r.scenario.id}`" in markdown for r in report.scenarios)


ESCAPES_BY_DESIGN = Scenario(
    "fs-read-own-workspace", Family.FILESYSTEM, "read a file the policy allows (must 'escape')",
    ("bwrap",), """
def attack(A):
    with open("allowed.txt", "w") as handle:
        handle.write(A["token"])
    escaped("read back a workspace file")
""")  # fmt: skip


def test_an_escape_fails_the_run_with_its_evidence(tmp_path: Path) -> None:
    weak = run_suite(
        SandboxPolicy.from_toml(POLICY), [ESCAPES_BY_DESIGN], store_path=tmp_path / "audit.db"
    )
    assert not weak.ok
    assert [r.scenario.id for r in weak.escaped] == ["fs-read-own-workspace"]
    assert weak.escaped[0].outcome.evidence == "read back a workspace file"
    paths = write_all(weak, tmp_path / "report")
    failures = ET.parse(paths["junit"]).getroot().findall(".//failure")
    assert [f.text for f in failures] == ["read back a workspace file"]


LOAD_BEARING = {
    "priv-keyctl": ["seccomp"],
    "res-fork-bomb": ["cgroups"],
    "proc-list-host": ["bwrap"],
    "net-udp-loopback": ["netns"],
}
"""One scenario per layer that only that layer stops: the matrix must find exactly it."""


def test_the_layer_matrix_finds_the_one_layer_each_attempt_depends_on(tmp_path: Path) -> None:
    chosen = [s for s in ALL if s.id in LOAD_BEARING or s.id == "fs-read-passwd"]
    report = run_suite(
        SandboxPolicy.from_toml(POLICY), chosen, store_path=tmp_path / "audit.db", matrix=True
    )
    assert report.ok
    found = {r.scenario.id: r.load_bearing for r in report.scenarios}
    assert found == {**LOAD_BEARING, "fs-read-passwd": []}
    two = next(r for r in report.scenarios if r.scenario.id == "fs-read-passwd")
    assert two.sufficient == ["bwrap", "landlock"]  # defence in depth: either alone holds
    for r in report.scenarios:
        if r is two:
            continue
        assert set(r.matrix) == {"bwrap", "landlock", "seccomp", "cgroups", "netns"}
        assert set(r.alone) == {"none", "bwrap", "landlock", "seccomp", "cgroups", "netns"}
        assert r.unexpected_layers == []
        assert r.sufficient == LOAD_BEARING[r.scenario.id]  # the one layer, and only it
    markdown = (write_all(report, tmp_path / "report"))["markdown"].read_text()
    assert "## Layer matrix" in markdown


def test_each_control_names_the_uid_that_really_ran_it(report: SuiteReport) -> None:
    from sentinel.sandbox.agent_uid import in_range  # noqa: PLC0415 - this test's alone

    ran = [r for r in report.scenarios if r.control.outcome is not None]
    unprivileged = [r for r in ran if r.scenario.control == "agent-uid"]
    assert unprivileged, "no scenario has an unprivileged control"
    for r in ran:
        said = r.control.runs_as(r.scenario.control)
        assert r.control.uid is not None, r.scenario.id
        if r.scenario.control == "root":
            assert r.control.uid == 0 and said.startswith("root (uid 0)"), said
        else:  # the workspace's leased agent uid, never host nobody
            assert in_range(r.control.uid) and said.startswith(f"agent uid {r.control.uid} ")
