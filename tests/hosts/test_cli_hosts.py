"""``run --hosts`` on the command line: what it refuses before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import cli

runner = CliRunner()


@pytest.mark.parametrize("extra", [["--days", "2"], ["--bus", "tcp/127.0.0.1:1"], ["--dashboard"]])
def test_hosts_refuses_single_host_features(tmp_path: Path, extra: list[str]) -> None:
    store = tmp_path / "run.db"
    result = runner.invoke(cli.app, ["run", "--hosts", "2", "--store", str(store), *extra])
    assert result.exit_code == 2
    assert "--hosts runs one day, without --dashboard and --bus" in result.output
    assert not store.exists() and not list(tmp_path.iterdir())


def test_hosts_refuses_cas_workspaces(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    argv = ["run", "--hosts", "2", "--workspace-fs", "cas", "--store", str(store)]
    result = runner.invoke(cli.app, argv)
    assert result.exit_code == 2
    assert "--hosts runs on ext4 workspaces" in result.output
    assert not store.exists() and not list(tmp_path.iterdir())


def test_merged_query_of_a_single_host_store_is_that_store(tmp_path: Path) -> None:
    from sentinel.audit import AuditStore  # noqa: PLC0415

    store = tmp_path / "one.db"
    with AuditStore(store) as opened:
        opened.append("runtime", "runtime.note", {"n": 1})
    result = runner.invoke(
        cli.app,
        ["audit", "query", "--hosts", "--store", str(store), "--json",
         "SELECT host, type FROM events"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"host": 0' in result.output and "runtime.note" in result.output
