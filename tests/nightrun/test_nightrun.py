"""The nightrun: memories stored as events, replay to the same digest, crash-resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.cli import app
from sentinel.gateway.persona import Persona
from sentinel.judge.synthetic_run import write_run
from sentinel.nightrun import episodes as episodes_module
from sentinel.nightrun import latest_memories, replay_nightrun, run_nightrun, with_memories


@pytest.fixture
def store(tmp_path: Path, personas: list[Persona], company_dir: Path) -> Path:
    path = tmp_path / "run.db"
    write_run(path, personas[:12], config=company_dir, messages=20, tool_calls=9)
    return path


def _memory_events(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with AuditStore(path, create=False) as s:
        for event in s.read(stream="nightrun", type="nightrun.memory"):
            agent = event.payload["agent_id"]
            counts[agent] = counts.get(agent, 0) + 1
    return counts


def test_memories_are_stored_and_replay_reproduces_the_digest(
    store: Path, personas: list[Persona]
) -> None:
    report = run_nightrun(store)
    assert report.jobs == report.done_now == 12 and report.day == 1
    assert 0 < report.memories <= 12 * 10
    assert _memory_events(store) == {p.id: 1 for p in personas[:12]}
    replay = replay_nightrun(store)
    assert replay.equal and replay.replayed_digest == report.memory_digest
    assert verify_store(store).ok
    with AuditStore(store, create=False) as s:
        memories = latest_memories(s)
    assert set(memories) == {p.id for p in personas[:12]}
    assert any("call failed" in m for texts in memories.values() for m in texts)
    prompt = with_memories("It is 09:00. Most pressing: hunger.", memories[personas[0].id])
    assert "You remember from yesterday:" in prompt


def test_a_second_nightrun_on_the_same_day_does_nothing(store: Path) -> None:
    first = run_nightrun(store)
    size = len(AuditStore(store, create=False))
    second = run_nightrun(store)
    assert second.done_now == 0 and second.memory_digest == first.memory_digest
    assert len(AuditStore(store, create=False)) == size


def test_replay_notices_a_consolidation_that_changed(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_nightrun(store)
    monkeypatch.setitem(episodes_module.RELEVANCE, "tool_failed", 0.1)
    replay = replay_nightrun(store)
    assert not replay.equal and replay.mismatched_steps


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from sentinel.nightrun import run_nightrun

    def crash(index, agent_id):
        if index == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

    run_nightrun(sys.argv[1], on_step=crash)
    """
)


@pytest.mark.parametrize("crash_after", [0, 5, 11])
def test_kill_9_mid_run_then_restart_does_nothing_twice_and_loses_nothing(
    store: Path, tmp_path: Path, crash_after: int, personas: list[Persona], company_dir: Path
) -> None:
    # The same day in another store (a copy would share the original's witness: a fork).
    twin = tmp_path / "twin.db"
    write_run(twin, personas[:12], config=company_dir, messages=20, tool_calls=9)
    uninterrupted = run_nightrun(twin)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(store), str(crash_after)],
        capture_output=True,
        env=os.environ,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert sum(_memory_events(store).values()) == crash_after + 1
    resumed = run_nightrun(store)
    assert resumed.done_now == 12 - (crash_after + 1)
    assert all(count == 1 for count in _memory_events(store).values())
    assert len(_memory_events(store)) == 12
    assert resumed.memory_digest == uninterrupted.memory_digest
    assert replay_nightrun(store).equal
    assert verify_store(store).ok


def test_the_cli_runs_and_replays(store: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["nightrun", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["nightrun", "--store", str(store), "--replay"])
    assert result.exit_code == 0 and "equal" in result.output
    result = runner.invoke(app, ["nightrun", "--store", str(store.with_name("none.db"))])
    assert result.exit_code == 2 and "no store" in result.output


def test_a_file_that_is_not_a_store_is_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    runner = CliRunner()
    for command in (["nightrun"], ["nightrun", "--replay"], ["judge"]):
        result = runner.invoke(app, [*command, "--store", str(junk)])
        assert result.exit_code == 2, result.output
        assert "junk.db" in result.output
    assert junk.read_bytes() == b"not a database at all" * 100
