"""sentinel.Run: a recorded run's snapshots and events as frames, still verified and replayable."""

from __future__ import annotations

from pathlib import Path

import pytest

import sentinel
from sentinel.agents import replay, run
from sentinel.agents.options import RunOptions
from sentinel.agents.snapshots import WORLD_STREAM
from sentinel.audit import AuditStore, verify_store
from sentinel.errors import InvalidInputError

CONFIG = Path(__file__).resolve().parents[2] / "config"
HOURS = 0.5
"""Half an hour at one second per tick: snapshots at tick 1 and every 600 ticks (4 in all)."""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "run.db"
    summary = run(RunOptions(config=CONFIG, hours=HOURS, store=path, seed=5))
    assert summary.chain_verified
    return path


def test_snapshots_are_chained_events_and_replay_still_holds(store: Path) -> None:
    assert verify_store(store).ok
    with AuditStore(store, create=False) as audit:
        snapshots = list(audit.read(stream=WORLD_STREAM))
    assert [e.type for e in snapshots] == ["world.snapshot"] * 4
    assert [e.tick for e in snapshots] == [1, 600, 1200, 1800]
    assert replay(store).equal


def test_frames_cover_agents_rooms_decisions_and_tool_calls(store: Path) -> None:
    shift = sentinel.Run(store)
    rooms, agents = shift.rooms, shift.agents
    assert sorted(rooms["minute"].unique()) == [0, 10, 20, 30]
    assert rooms.groupby("minute").size().nunique() == 1  # every room in every snapshot
    assert rooms["temperature"].dtype == "float64" and rooms["co2_ppm"].dtype == "float64"
    assert rooms["co2_ppm"].min() >= 400.0 and rooms["temperature"].between(-10, 45).all()
    # every agent placed in a room is counted in that room at the same minute
    placed = agents.dropna(subset=["room"]).groupby(["minute", "room"]).size()
    counted = rooms.set_index(["minute", "room"])["occupancy"]
    for key, people in placed.items():
        if key[1] in counted.index.get_level_values("room"):
            assert counted[key] == people, key
    assert agents["energy"].between(0, 100).all()
    with AuditStore(store, create=False) as audit:
        decisions = sum(1 for _ in audit.read(type="runtime.decision"))
        tools = sum(1 for _ in audit.read(type="runtime.tool_result"))
    assert len(shift.decisions) == decisions > 0
    assert len(shift.tool_calls) == tools
    assert set(shift.decisions["decision"]) <= {"synthesized", "learned", "forwarded", "refused"}
    assert shift.arrow("rooms").num_rows == len(rooms)
    assert shift.summary.snapshots == 4 and shift.summary.ticks == 1800


def test_html_views_name_the_run_its_summary_and_the_store(store: Path) -> None:
    shift = sentinel.Run(store)
    assert "<strong>Run</strong>" in shift._repr_html_()
    assert "world snapshots" in shift.summary._repr_html_()
    with AuditStore(store, create=False) as audit:
        view = audit._repr_html_()
        assert f"{len(audit)} events" in view and "world.snapshot</td><td>4<" in view


def test_bad_paths_and_names_are_clear_errors(store: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no store"):
        sentinel.Run(tmp_path / "missing.db")
    empty = tmp_path / "empty.db"
    with AuditStore(empty) as audit:
        audit.append("other", "note", {"text": "not a run"})
    with pytest.raises(InvalidInputError, match="no finished run"):
        sentinel.Run(empty)
    with pytest.raises(InvalidInputError, match="no frame"):
        sentinel.Run(store).arrow("people")
