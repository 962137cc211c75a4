"""Gaia: deterministic, the shipped config/ is its output, and its CLI."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import load_company
from sentinel.config.gaia import (
    EXAMPLE_SPEC,
    ShiftModel,
    allocate,
    example_spec_toml,
    generate,
    load_spec,
    parse_spec,
    write_company,
)
from sentinel.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"
runner = CliRunner()


def _tree(root: Path) -> dict[str, str]:
    """Gaia's files under ``root``; config/ also holds files of other subsystems."""
    paths = [root / "rooms.toml", root / "simulation.toml", *sorted((root / "agents").glob("*"))]
    return {str(path.relative_to(root)): path.read_text() for path in paths}


def test_shipped_config_is_gaia_output(tmp_path: Path) -> None:
    spec = load_spec(CONFIG / "gaia-spec.toml")
    assert spec == EXAMPLE_SPEC
    write_company(generate(spec), tmp_path)
    assert _tree(tmp_path) == _tree(CONFIG)


def test_example_spec_round_trips() -> None:
    assert parse_spec(example_spec_toml()) == EXAMPLE_SPEC
    assert (CONFIG / "gaia-spec.toml").read_text() == example_spec_toml()


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    first = generate(EXAMPLE_SPEC).files()
    assert generate(EXAMPLE_SPEC).files() == first
    other = generate(EXAMPLE_SPEC.model_copy(update={"seed": 7})).files()
    assert other != first
    assert other.keys() == first.keys()


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (17, [1, 3, 5, 2, 1, 1, 4], [1, 3, 5, 2, 1, 1, 4]),
        (9, [1, 1, 1], [3, 3, 3]),
        (5, [100, 1, 1], [3, 1, 1]),
        (3, [1, 1, 1], [1, 1, 1]),
        (10, [1, 2], [3, 7]),
    ],
)
def test_allocate_one_each_then_by_weight(
    total: int, weights: list[float], expected: list[int]
) -> None:
    assert allocate(total, weights) == expected
    assert sum(allocate(total, weights)) == total


def test_allocate_refuses_too_few_agents() -> None:
    with pytest.raises(ConfigError, match="cannot staff"):
        allocate(2, [1, 1, 1])


def test_other_shapes_generate_and_load(tmp_path: Path) -> None:
    spec = EXAMPLE_SPEC.model_copy(
        update={"agent_count": 39, "shift_model": ShiftModel.HYBRID, "seed": 3}
    )
    write_company(generate(spec), tmp_path)
    company = load_company(tmp_path)
    assert len(company.personas) == 39
    assert [shift.set for shift in company.simulation.shifts] == [1, 2]


def test_spec_errors_name_the_field() -> None:
    text = example_spec_toml().replace("agent_count = 60", "agent_count = 61")
    with pytest.raises(ConfigError, match="split evenly"):
        parse_spec(text, "spec.toml")
    text = example_spec_toml().replace('office = "u-council"', 'office = "u-nowhere"')
    with pytest.raises(ConfigError, match=r"departments\.7\.office"):
        generate(parse_spec(text))


def test_cli_round_trip(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gaia", "print-example-spec"])
    assert result.exit_code == 0
    spec = tmp_path / "spec.toml"
    spec.write_text(result.stdout)
    out = tmp_path / "company"
    result = runner.invoke(app, ["gaia", "init", "--spec", str(spec), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert not filecmp.dircmp(out / "agents", CONFIG / "agents").diff_files
    result = runner.invoke(app, ["gaia", "validate", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["agents"] == 60
    result = runner.invoke(app, ["gaia", "preview", "--spec", str(spec), "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["personas"]) == 60
    (out / "rooms.toml").write_text("rooms = []\ndoors = []\n")
    result = runner.invoke(app, ["gaia", "validate", str(out)])
    assert result.exit_code == 2
    assert "rooms.toml" in result.output
