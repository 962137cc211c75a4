"""How a run becomes blocked / escaped / error, without a sandbox (no host access needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentinel.breakout import Family, Scenario, run_suite, select
from sentinel.breakout.prelude import program
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
    return decide(Run(result, Path("/nonexistent"), None), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('def attack(A):\n    escaped("got out")', ("escaped", "got out")),
        ('def attack(A):\n    blocked("held")', ("blocked", "held")),
        ('def attack(A):\n    open("/nonexistent/x")', ("blocked", "ENOENT")),
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
              Path("/nonexistent"), None)  # type: ignore[arg-type]  # fmt: skip
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
