from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sentinel
from sentinel import cli
from sentinel.cli import doctor as doctor_cli
from sentinel.sandbox import detect
from tests.sandbox.simulated_host import SimulatedHost, build_healthy_tree

runner = CliRunner()


def test_version_flag() -> None:
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sentinel-run {sentinel.__version__}"


def test_version_command_json() -> None:
    result = runner.invoke(cli.app, ["version", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["sentinel"] == sentinel.__version__
    assert data["native"]["rustc"].startswith("rustc ")


def test_no_arguments_prints_help() -> None:
    result = runner.invoke(cli.app, [])
    assert "doctor" in result.stdout


@pytest.mark.host
def test_doctor_json_on_this_host_is_the_detect_model() -> None:
    result = runner.invoke(cli.app, ["doctor", "--json", "--strict"])
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    assert set(data) == {
        "host",
        "bwrap",
        "user_namespaces",
        "landlock",
        "seccomp",
        "cgroups",
        "network",
        "bpf",
        "fuse",
        "wasmtime",
        "workspace_fs",
        "layers",
    }
    assert [layer["name"] for layer in data["layers"]] == [
        "bwrap",
        "landlock",
        "seccomp",
        "cgroups",
        "netns",
        "wasmtime",
        "userns",
        "bpf",
        "fuse",
        "workspace-fs",
    ]


@pytest.mark.host
def test_doctor_table_names_every_layer() -> None:
    result = runner.invoke(cli.app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("bwrap", "landlock", "seccomp", "cgroups", "netns", "wasmtime"):
        assert name in result.stdout


def _simulate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, without_bwrap: bool) -> None:
    root = build_healthy_tree(tmp_path)
    if without_bwrap:
        (root / "usr/bin/bwrap").unlink()
    monkeypatch.setattr(doctor_cli, "detect", lambda: detect(SimulatedHost(root)))


def test_strict_fails_when_a_layer_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _simulate(monkeypatch, tmp_path, without_bwrap=True)
    result = runner.invoke(cli.app, ["doctor", "--strict"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "unavailable sandbox layers: bwrap" in result.stdout
    assert "apt-get install bubblewrap" in result.stdout
    json_result = runner.invoke(cli.app, ["doctor", "--strict", "--json"])
    assert json_result.exit_code == 1
    assert json.loads(json_result.stdout)["bwrap"]["path"] is None


def test_without_strict_an_unavailable_layer_is_reported_not_fatal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _simulate(monkeypatch, tmp_path, without_bwrap=True)
    result = runner.invoke(cli.app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "unavailable" in result.stdout


def test_strict_passes_on_a_healthy_simulated_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _simulate(monkeypatch, tmp_path, without_bwrap=False)
    assert runner.invoke(cli.app, ["doctor", "--strict"]).exit_code == 0
