"""``run --days``: the second day depends on the first day's memories, and only on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.agents import RunOptions, run
from sentinel.audit import AuditStore
from sentinel.cli import app
from sentinel.errors import InvalidInputError
from sentinel.nightrun import replay_nightrun
from sentinel.nightrun.days import day_store, run_days


def _answers(path: Path) -> list[tuple[int | None, str, str, str]]:
    with AuditStore(path, create=False) as store:
        return [
            (e.tick, e.payload["agent_id"], e.payload["kind"], repr(e.payload["actions"]))
            for e in store.read(type="runtime.decision")
        ]


def test_day_two_answers_differ_because_of_day_one_memories(tmp_path: Path) -> None:
    options = RunOptions(agents=6, hours=0.75, store=tmp_path / "run.db")
    results = run_days(options, 2)
    assert [r.day for r in results] == [1, 2]
    assert results[0].recalled == 0 and results[1].recalled > 0
    assert all(r.summary.ok for r in results)
    first, second = day_store(options.store, 1), day_store(options.store, 2)
    with AuditStore(second, create=False) as store:
        started = next(store.read(type="runtime.started"))
        remembered = started.payload["memories"]
    with AuditStore(first, create=False) as store:
        night = [e.payload for e in store.read(type="nightrun.memory") if e.payload["memories"]]
    assert {p["agent_id"] for p in night} == {a for a, texts in remembered.items() if texts}
    day1, day2 = _answers(first), _answers(second)
    assert [a[:3] for a in day1] == [a[:3] for a in day2]  # same seed: the same requests
    changed = sum(a != b for a, b in zip(day1, day2, strict=True))
    assert changed > 0
    # The control: the same day again without memories answers exactly as day 1 did.
    control = run(RunOptions(agents=6, hours=0.75, store=tmp_path / "control.db"))
    assert control.ok
    assert _answers(tmp_path / "control.db") == day1
    assert replay_nightrun(first).equal and replay_nightrun(second).equal


def test_days_out_of_range_or_an_existing_day_store_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--days", "99", "--store", str(tmp_path / "r.db")])
    assert result.exit_code == 2 and "--days" in result.output
    day_store(tmp_path / "r.db", 2).write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"r\.day2\.db exists"):
        run_days(RunOptions(agents=1, hours=0.1, store=tmp_path / "r.db"), 2)
