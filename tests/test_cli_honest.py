"""An honest CLI: a failing provider is not ok, --json errors are JSON, no silent caps."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sentinel.agents import RunSummary
from sentinel.cli import app

runner = CliRunner()


def _summary(decisions: dict[str, int]) -> RunSummary:
    return RunSummary(
        ticks=10, simulated_hours=0.0, start_clock="06:00", end_clock="06:00", agents=1,
        peak_on_duty=1, events=3, decisions=decisions, tool_calls=0, tool_failures=0,
        attacks=0, attacks_blocked=0, unblocked=[], violations=0, cost_usd=0.0,
        chain_verified=True, store="x.db", state_hash="0" * 64, wall_s=0.1,
    )  # fmt: skip


def test_a_run_whose_provider_fails_is_not_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _summary({"synthesized:focused_work": 500, "refused:provider_error": 30})
    monkeypatch.setattr("sentinel.cli.run.run", lambda options, progress: failing)
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["refused_share"] == 1.0
    assert "refused" in report["problems"][0]
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 1
    assert "not ok" in result.output


def test_a_few_refusals_keep_a_run_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    fine = _summary({"forwarded:": 90, "refused:rate_limited": 10, "synthesized:x": 5})
    assert fine.refused_share == pytest.approx(0.1)
    assert fine.ok and not fine.problems
    monkeypatch.setattr("sentinel.cli.run.run", lambda options, progress: fine)
    assert runner.invoke(app, ["run", "--json"]).exit_code == 0


def test_more_agents_than_ids_exist_is_refused_not_capped() -> None:
    # Beyond the roster new personas are drawn (tests/config/test_roster_growth.py); beyond
    # the agent ids there are (AGENT-NNNN), the run is refused, never silently capped.
    result = runner.invoke(app, ["run", "--agents", "100000", "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "exceeds 9999" in report["error"]
    result = runner.invoke(app, ["run", "--agents", "100000"])
    assert result.exit_code == 2
    assert "exceeds 9999" in result.output


def test_errors_under_json_are_json_on_stdout() -> None:
    result = runner.invoke(app, ["world", "simulate", "--backend", "gpu", "--ticks", "1", "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report == {"ok": False, "error": report["error"], "kind": "InvalidInputError"}
    assert "unknown backend" in report["error"]


def test_world_simulate_reports_a_larger_building() -> None:
    result = runner.invoke(app, ["world", "simulate", "--agents", "2000", "--ticks", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["agents"] == 2000
    assert report["building_scale"] > 1
    assert max(room["occupancy"] for room in report["rooms"]) <= 20 * report["building_scale"]
