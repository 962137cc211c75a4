"""How a run becomes blocked / escaped / error, without a sandbox (no host access needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentinel.breakout import ALL, Family, Scenario, ScenarioReport, SuiteReport, run_suite, select
from sentinel.breakout.prelude import program
from sentinel.breakout.report import EXIT_INCONCLUSIVE, write_all
from sentinel.breakout.runner import ControlOutcome
from sentinel.breakout.scenario import Outcome, Run, decide
from sentinel.cli import app
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult


def _result(stdout: bytes = b"", **changes: Any) -> ExecResult:
    fields: dict[str, Any] = {
        "exit_code": 0, "signal": None, "stdout": stdout, "stderr": b"", "truncated": False,
        "timed_out": False, "oom_killed": False, "pids_limited": False, "cpu_s": 0.0,
        "max_rss_bytes": 0, "duration_s": 0.0, "violations": (), "layers": (),
    }  # fmt: skip
    fields.update(changes)
    return ExecResult(**fields)


def _run(body: str) -> ExecResult:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program(body), '{"token": "t"}'],
        capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    return _result(done.stdout, exit_code=done.returncode, stderr=done.stderr)


def _decide(result: ExecResult) -> Outcome:
    return decide(Run(result, Path("/nonexistent"), None), None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('def attack(A):\n    escaped("got out")', ("escaped", "got out")),
        ('def attack(A):\n    blocked("held")', ("blocked", "held")),
        ('def attack(A):\n    open("/nonexistent/x")', ("inconclusive", "ENOENT")),
        ('def attack(A):\n    open("/proc/self/status/x")', ("inconclusive", "ENOTDIR")),
        ("def attack(A):\n    os.kill(2**22 + 7, 0)", ("inconclusive", "ESRCH")),
        (
            'def attack(A):\n    socket.create_connection(("127.0.0.1", 1))',
            ("inconclusive", "ECONNREFUSED"),
        ),
        ('def attack(A):\n    inconclusive("nothing to compare")', ("inconclusive", "nothing to")),
        ("def attack(A):\n    raise PermissionError(1, 'no')", ("blocked", "EPERM")),
        (
            "def attack(A):\n    import errno\n    raise OSError(errno.EIO, 'disk')",
            ("error", "EIO"),
        ),
        ("def attack(A):\n    1 / 0", ("error", "ZeroDivisionError")),
        ("def attack(A):\n    pass", ("error", "without a verdict")),
        (
            'def attack(A):\n    try:\n        escaped("x")\n    except Exception:\n        pass',
            ("escaped", "x"),
        ),
    ],
)
def test_the_attacker_protocol(body: str, expected: tuple[str, str]) -> None:
    outcome = _decide(_run(body))
    assert outcome.result == expected[0]
    assert expected[1] in outcome.evidence


def test_a_broken_attacker_is_an_error_never_a_block() -> None:
    outcome = _decide(_run("def attack(A):\n    syntax error here"))
    assert outcome.result == "error"
    assert "SyntaxError" in outcome.evidence


@pytest.mark.parametrize(
    ("changes", "result", "evidence"),
    [
        ({"signal": 31, "exit_code": None}, "blocked", "seccomp"),
        ({"exit_code": 128 + 31}, "blocked", "seccomp"),
        ({"oom_killed": True, "exit_code": None}, "blocked", "OOM"),
        ({"pids_limited": True}, "blocked", "pids"),
        ({"truncated": True}, "blocked", "output"),
        ({"timed_out": True}, "blocked", "wall-clock"),
        ({"exit_code": 3, "stderr": b"boom\n"}, "error", "boom"),
    ],
)
def test_without_a_report_the_sandbox_accounting_decides(
    changes: dict[str, Any], result: str, evidence: str
) -> None:
    outcome = _decide(_result(**changes))
    assert outcome.result == result
    assert evidence in outcome.evidence


def test_host_evidence_overrides_the_attacker() -> None:
    def judge(run: Run) -> Outcome:
        return Outcome("escaped", "the host saw the file")

    run = Run(_result(b'SENTINEL-BREAKOUT {"result": "blocked", "evidence": "no"}\n'),
              Path("/nonexistent"), None)  # fmt: skip
    assert decide(run, judge) == Outcome("escaped", "the host saw the file")


def test_selection_by_family_and_id() -> None:
    assert {s.family for s in select([Family.KERNEL])} == {Family.KERNEL}
    assert [s.id for s in select(ids=["fs-read-shadow"])] == ["fs-read-shadow"]
    with pytest.raises(KeyError, match="no-such"):
        select(ids=["no-such"])


def test_the_cli_names_an_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["breakout", "--report", str(tmp_path), "--scenario", "nope"])
    assert result.exit_code == 2
    assert "unknown scenario id(s): nope" in result.output


def test_scenarios_are_plain_data() -> None:
    scenario = Scenario("x-y", Family.KERNEL, "attempt", ("uid",), "def attack(A): pass")
    assert scenario.control == "root"
    assert scenario.judge is None


@pytest.mark.host
def test_a_relative_store_path_is_the_one_attackers_aim_at(
    sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tampering scenario's control runs in another directory and must find the store."""
    monkeypatch.chdir(sandbox_base)
    report = run_suite(
        SandboxPolicy(), select(ids=["fs-tamper-audit-store"]), store_path=Path("out/audit.db")
    )
    assert report.ok
    control = report.scenarios[0].control.outcome
    assert control is not None and control.result == "escaped"


def _run_with(body: str, facts: dict[str, Any], cwd: Path) -> ExecResult:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program(body), json.dumps(facts)],
        capture_output=True, check=False, timeout=30, cwd=cwd,
    )  # fmt: skip
    return _result(done.stdout, exit_code=done.returncode, stderr=done.stderr)


def test_an_absent_target_is_blocked_only_when_the_host_has_it(tmp_path: Path) -> None:
    """Absence inside a sandbox proves hiding only if the host has the target."""
    present = tmp_path / "present"
    present.write_text("x")
    body = 'def attack(A):\n    open(A["path"] + "-not-here")'
    hidden = _run_with('def attack(A):\n    raise FileNotFoundError(2, "gone", A["path"])',
                       {"path": str(present)}, tmp_path)  # fmt: skip
    outcome = decide(Run(hidden, tmp_path, None), None)
    assert (outcome.result, outcome.source, outcome.target_absent) == ("blocked", "host", True)
    assert str(present) in outcome.evidence
    absent = decide(Run(_run_with(body, {"path": str(present)}, tmp_path), tmp_path, None), None)
    assert (absent.result, absent.source, absent.target_absent) == (
        "inconclusive", "self-reported", True,
    )  # fmt: skip


def test_a_workspace_link_is_read_never_followed_by_the_host(tmp_path: Path) -> None:
    """The attacker's symlink names its target; the host reads the link, not through it."""
    body = 'def attack(A):\n    os.symlink(A["path"], "link")\n    raise FileNotFoundError(2, "x", "link")'
    (tmp_path / "host-file").write_text("x")
    absolute = _run_with(body, {"path": str(tmp_path / "host-file")}, tmp_path)
    assert decide(Run(absolute, tmp_path, None), None).result == "blocked"
    (tmp_path / "link").unlink()
    # A relative link would have to be resolved against agent-controlled directories.
    relative = _run_with(body, {"path": "host-file"}, tmp_path)
    assert decide(Run(relative, tmp_path, None), None).result == "inconclusive"


def test_an_unknown_host_digest_is_inconclusive_never_blocked(tmp_path: Path) -> None:
    """The red-team facts hold "" for a file the host could not read (e.g. /etc/shadow)."""
    shadow = next(s for s in ALL if s.id == "fs-read-shadow")
    for facts in ({"shadow_sha256": ""}, {"shadow_sha256": None}, {}):
        result = _run_with(shadow.body, facts, tmp_path)
        outcome = decide(Run(result, tmp_path, None), shadow.judge)
        assert outcome.result == "inconclusive", (facts, outcome)
        assert "nothing to compare" in outcome.evidence


def _report(outcome: Outcome, control: ControlOutcome) -> ScenarioReport:
    scenario = Scenario("x-y", Family.KERNEL, "attempt", ("uid",), "def attack(A): pass")
    return ScenarioReport(scenario, outcome, control)


ESCAPED = ControlOutcome(Outcome("escaped", "got out", "self-reported"))
SKIPPED = ControlOutcome(skipped_because="no such interface here")
FAILED = ControlOutcome(Outcome("blocked", "the host refused it too", "self-reported"))
ABSENT = Outcome("inconclusive", "target absent", "self-reported", target_absent=True)


@pytest.mark.parametrize(
    ("outcome", "control", "verdict", "reason"),
    [
        (Outcome("blocked", "EPERM"), ESCAPED, "blocked", "escaped without the sandbox"),
        (Outcome("blocked", "EPERM"), SKIPPED, "inconclusive", "cannot run here"),
        (Outcome("blocked", "EPERM"), FAILED, "inconclusive", "did not escape"),
        (ABSENT, ESCAPED, "blocked", "reached it outside"),
        (ABSENT, SKIPPED, "inconclusive", "cannot run here"),
        (Outcome("inconclusive", "no digest"), ESCAPED, "inconclusive", "proved nothing"),
        (Outcome("escaped", "out"), SKIPPED, "escaped", ""),
        (Outcome("error", "broken"), ESCAPED, "error", ""),
    ],
)
def test_a_verdict_of_blocked_is_earned_by_its_control(
    outcome: Outcome, control: ControlOutcome, verdict: str, reason: str
) -> None:
    report = _report(outcome, control)
    assert report.verdict == verdict
    assert reason in report.verdict_reason


def test_the_headline_counts_inconclusive_apart_and_the_exit_code_says_so(tmp_path: Path) -> None:
    def suite(*rows: ScenarioReport) -> SuiteReport:
        return SuiteReport(host={}, scenarios=list(rows))

    blocked = _report(Outcome("blocked", "EPERM", "self-reported"), ESCAPED)
    host_blocked = _report(Outcome("blocked", "no file", "host"), ESCAPED)
    skipped = _report(Outcome("blocked", "EPERM", "self-reported"), SKIPPED)
    failed = _report(Outcome("blocked", "EPERM", "self-reported"), FAILED)
    escaped = _report(Outcome("escaped", "out", "self-reported"), ESCAPED)
    assert suite(blocked, host_blocked).exit_code == 0
    assert suite(blocked, skipped).exit_code == EXIT_INCONCLUSIVE
    assert suite(blocked, failed).exit_code == 1
    assert suite(skipped, escaped).exit_code == 1
    mixed = suite(blocked, host_blocked, skipped)
    assert not mixed.ok
    summary = mixed.summary()
    assert (summary["blocked"], summary["inconclusive"], summary["escaped"]) == (2, 1, 0)
    assert (summary["host_evidence"], summary["self_reported"]) == (1, 2)
    paths = write_all(mixed, tmp_path)
    rows = json.loads(paths["json"].read_text())["scenarios"]
    assert [(r["verdict"], r["evidence_source"]) for r in rows] == [
        ("blocked", "self-reported"), ("blocked", "host"), ("inconclusive", "self-reported"),
    ]  # fmt: skip
    markdown = paths["markdown"].read_text()
    assert "3 scenarios: 2 blocked, 1 inconclusive, 0 escaped, 0 errors" in markdown
    assert "**inconclusive**" in markdown and "evidence: self-reported" in markdown
    junit = ET.parse(paths["junit"]).getroot()
    assert [s.get("message") for s in junit.iter("skipped")] == ["inconclusive"]
    assert not list(junit.iter("failure"))


def test_the_cli_exits_3_when_verdicts_are_inconclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = _report(Outcome("blocked", "EPERM", "self-reported"), SKIPPED)
    fake = SuiteReport(host={}, scenarios=[skipped])
    monkeypatch.setattr("sentinel.cli.breakout.run_suite", lambda *a, **k: fake)
    result = CliRunner().invoke(
        app, ["breakout", "--report", str(tmp_path), "--scenario", "fs-read-shadow"]
    )
    assert result.exit_code == EXIT_INCONCLUSIVE, result.output
    assert "0 blocked, 1 inconclusive, 0 escaped" in result.output.replace("\n", " ")
    assert "INCONCLUSIVE x-y: the negative control cannot run here" in result.output
