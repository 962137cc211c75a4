"""``sentinel-run world simulate``: a thin call into World, same hash as the library."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import Company
from sentinel.world import World
from tests.world.conftest import CONFIG

runner = CliRunner()


def test_simulate_json_matches_the_library(company: Company) -> None:
    result = runner.invoke(
        app, ["world", "simulate", "--config", str(CONFIG), "--ticks", "700", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    world = World(company)
    world.step(700)
    assert report["state_hash"] == world.state_hash()
    assert report["tick"] == 700
    assert len(report["rooms"]) == 26


def test_simulate_table_and_errors() -> None:
    result = runner.invoke(app, ["world", "simulate", "--config", str(CONFIG), "--ticks", "5"])
    assert result.exit_code == 0
    assert "g-entrance" in result.stdout
    result = runner.invoke(
        app, ["world", "simulate", "--config", str(CONFIG), "--backend", "gpu", "--ticks", "1"]
    )
    assert result.exit_code == 2
    assert "unknown backend" in result.output
