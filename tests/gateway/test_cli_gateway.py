"""``sentinel-run gateway ...``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sentinel.cli import app
from tests.gateway.conftest import fingerprint

runner = CliRunner()


def test_ask_json() -> None:
    result = runner.invoke(app, ["gateway", "ask", "Create hello.py and run it", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["sentinel"]["decision"] == "forwarded"
    assert [a["target"] for a in body["sentinel"]["actions"]] == ["fs", "python"]


def test_ask_synthesized_table() -> None:
    result = runner.invoke(app, ["gateway", "ask", "tick", "--fingerprint", fingerprint(B=9)])
    assert result.exit_code == 0, result.output
    assert "bladder_urgent" in result.output


def test_check_and_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateway", "check"])
    assert result.exit_code == 0 and "focused_alone" in result.output
    bad = tmp_path / "g.toml"
    bad.write_text("[breaker]\nopen_s = 0\n")
    result = runner.invoke(app, ["gateway", "check", "--config", str(bad)])
    assert result.exit_code == 2 and "breaker.open_s" in result.output
    result = runner.invoke(app, ["gateway", "ask", "x", "--agent", "NOBODY"])
    assert result.exit_code == 2 and "unknown agent" in result.output
