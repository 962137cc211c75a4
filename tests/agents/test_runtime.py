"""The agent runtime for real: sandboxes, gateway and audit on short shifts of the company."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.agents import RunOptions, RunSummary, replay, run, runtime
from sentinel.agents.backends import RUNS_ROOT, make_run_dir
from sentinel.audit import AuditStore, verify_store
from sentinel.sandbox.disk_quota import mounts_below

pytestmark = pytest.mark.host

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def run_dirs() -> Iterator[list[Path]]:
    """The run directories the runs of this module made (each must be gone after its run)."""
    made: list[Path] = []

    def recording() -> Path:
        made.append(make_run_dir())
        return made[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "make_run_dir", recording)
        yield made


@pytest.fixture(scope="module")
def shift(
    tmp_path_factory: pytest.TempPathFactory, run_dirs: list[Path]
) -> tuple[RunSummary, Path, Path]:
    """One and a half hours of the morning shift, a fifth of the agents compromised."""
    base = tmp_path_factory.mktemp("shift")
    store, kept = base / "run.db", base / "workspaces"
    kept.mkdir()
    options = RunOptions(config=CONFIG, hours=1.5, compromised=0.2, store=store)
    summary = run(options, keep_workspaces=kept)
    assert run_dirs and not run_dirs[-1].exists()  # released and removed
    assert run_dirs[-1].parent == RUNS_ROOT
    return summary, store, kept


def test_a_short_shift_runs_tools_in_real_sandboxes(shift: tuple[RunSummary, Path, Path]) -> None:
    summary, store, kept = shift
    assert summary.ok and summary.chain_verified and not summary.interrupted
    assert summary.ticks == 5400 and summary.agents == summary.peak_on_duty == 26
    assert summary.tool_calls > 0 and summary.tool_failures == 0
    assert summary.decisions and sum(summary.decisions.values()) > 100
    assert summary.work["tasks_done"] == summary.work["tasks"] > 0
    tickets = sorted(kept.glob("*/work/*"))
    assert tickets, "no agent worked a ticket in its workspace"
    repo = tickets[0].parent.parent
    log = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(repo), "log", "--format=%s"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert any(line.startswith(f"{tickets[0].name.upper()}: ") for line in log.stdout.splitlines())
    with AuditStore(store) as opened:
        executed = list(opened.read(type="sandbox.executed"))
        assert len(executed) >= summary.tool_calls > 0
        assert all(e.payload["layers"] for e in executed)
        assert sum(1 for _ in opened.read(type="agent.lifecycle")) == 52  # 26 on, 26 off
    assert not any(mounts_below(path) for path in kept.parent.iterdir())


def test_developers_use_their_wasi_tools(shift: tuple[RunSummary, Path, Path]) -> None:
    summary, store, _ = shift
    assert summary.wasi_tool_calls > 0
    with AuditStore(store) as opened:
        wasi = [
            e.payload
            for e in opened.read(type="sandbox.executed")
            if e.payload["argv"][0].startswith("wasm:")
        ]
        results = [
            e.payload
            for e in opened.read(type="runtime.tool_result")
            if e.payload["tool"].startswith("wasm:")
        ]
    assert len(wasi) == len(results) == summary.wasi_tool_calls
    assert {p["argv"][0] for p in wasi} == {"wasm:grep", "wasm:wc", "wasm:crc32"}
    assert all(p["layers"] == ["wasmtime"] and p["exit_code"] == 0 for p in wasi)
    checksums = [r["output"] for r in results if r["tool"] == "wasm:crc32"]
    rows = [line.split() for line in checksums[0].splitlines()]
    assert rows and all(name.startswith("work/") for _, _, name in rows)  # the ticket's files
    assert any(name.rsplit("/", 1)[-1].startswith("test_") for _, _, name in rows)
    assert all(len(crc) == 8 and int(size) > 0 for crc, size, _ in rows)  # CRC-32 hex, bytes


def test_red_team_attacks_are_all_blocked_and_audited(
    shift: tuple[RunSummary, Path, Path],
) -> None:
    summary, store, _ = shift
    assert summary.attacks > 0 and summary.attacks_blocked == summary.attacks
    assert not summary.unblocked
    with AuditStore(store) as opened:
        attacks = [e.payload for e in opened.read(type="runtime.attack")]
        violations = [
            e.payload
            for e in opened.read(type="sandbox.violation")
            if e.payload["detail"].startswith("red-team attack blocked")
        ]
    assert len(attacks) == len(violations) == summary.attacks
    assert {a["result"] for a in attacks} == {"blocked"}
    assert [v["attempt"].split(":")[0] for v in violations] == [a["scenario"] for a in attacks]
    assert summary.violations >= summary.attacks


def test_replay_reproduces_the_state_hash(shift: tuple[RunSummary, Path, Path]) -> None:
    summary, store, _ = shift
    report = replay(store)
    assert report.equal and report.replayed_hash == summary.state_hash
    assert report.control_decisions > 0 and not report.control_differences
    assert report.ticks == summary.ticks and report.attacks == summary.attacks
    assert report.tool_results == summary.tool_calls


def test_the_platform_plane_quarantines_the_red_team(
    shift: tuple[RunSummary, Path, Path],
) -> None:
    summary, store, _ = shift
    quarantined = [q for q in summary.control["quarantine"] if q["change"] == "quarantined"]
    with AuditStore(store) as opened:
        attackers = {e.payload["agent_id"] for e in opened.read(type="runtime.attack")}
        decisions = [e.payload for e in opened.read(type="control.decision")]
    assert attackers and {q["agent_id"] for q in quarantined} == attackers
    assert all(
        q["rule"] == "platform.violations" and q["clock"] and q["reason"] for q in quarantined
    )
    platform = summary.control["planes"]["platform"]
    assert platform["actions"] >= len(attackers) and platform["successful"] >= len(attackers)
    acted = [a for d in decisions for a in d["actions"] if a["action"] == "quarantine"]
    assert {a["target"] for a in acted} == attackers
    assert all(a["status"] == "applied" and "tools off" in a["detail"] for a in acted)


def test_same_seed_same_hash_other_seed_other_hash(tmp_path: Path) -> None:
    def once(name: str, seed: int) -> RunSummary:
        options = RunOptions(config=CONFIG, hours=0.5, seed=seed, store=tmp_path / name)
        return run(options)

    first, second, other = once("a.db", 7), once("b.db", 7), once("c.db", 8)
    assert first.state_hash == second.state_hash
    assert first.decisions == second.decisions and first.tool_calls == second.tool_calls
    assert other.state_hash != first.state_hash


def test_ctrl_c_stops_cleanly_with_a_verified_store(tmp_path: Path) -> None:
    store = tmp_path / "interrupted.db"
    script = Path(sys.executable).parent / "sentinel-run"
    command = [str(script), "run", "--store", str(store), "--json"]
    process = subprocess.Popen(
        command, cwd=CONFIG.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until agents are at work
        if store.exists():
            with AuditStore(store) as opened:
                if opened.head()[0] > 500:
                    break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr
    assert b'"interrupted": true' in stdout
    assert verify_store(store).ok
    with AuditStore(store) as opened:
        finished = next(opened.read(type="runtime.finished")).payload
        assert opened.latest_checkpoint() is not None
    assert finished["interrupted"] and 0 < finished["ticks"] < 28800
    assert replay(store).equal
    with AuditStore(store) as opened:
        run_dir = Path(next(opened.read(type="runtime.started")).payload["run_dir"])
    assert run_dir.parent == RUNS_ROOT and not run_dir.exists()
