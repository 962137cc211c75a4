from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore
from sentinel.cli import app
from sentinel.sandbox.agent_uid import in_range

runner = CliRunner()
pytestmark = pytest.mark.host


def test_exec_passes_stdin_output_and_exit_status(workspace: Path) -> None:
    argv = ["sandbox", "exec", "--agent", "cli-test", "--workspace", str(workspace)]
    result = runner.invoke(app, [*argv, "--", "sh", "-c", "cat; exit 3"], input="piped")
    assert result.exit_code == 3
    assert "piped" in result.stdout


def test_exec_json_and_audit(tmp_path: Path, workspace: Path) -> None:
    store = tmp_path / "audit.db"
    argv = ["sandbox", "exec", "--json", "--store", str(store), "--agent", "cli-test"]
    result = runner.invoke(app, [*argv, "--workspace", str(workspace), "--", "id", "-u"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert in_range(int(base64.b64decode(data["stdout_b64"])))  # the agent's own uid
    assert data["layers"] == ["bwrap", "landlock", "seccomp", "cgroups", "netns", "workspace-fs"]
    with AuditStore(store) as opened:
        assert [e.type for e in opened.read()] == ["sandbox.executed"]


def test_status_reports_blocked_canaries() -> None:
    result = runner.invoke(app, ["sandbox", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def test_bad_policy_is_exit_2_with_the_file_named(tmp_path: Path) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_text("[filesystem]\nwritable = ['/etc']\n")
    result = runner.invoke(app, ["sandbox", "exec", "--policy", str(policy), "--", "true"])
    assert result.exit_code == 2
    assert "bad.toml, field 'filesystem'" in result.output


def test_release_unmounts_the_workspace_file_system(sandbox_base: Path) -> None:
    workspace = sandbox_base / "agent-ws"
    runner = CliRunner()
    done = runner.invoke(
        app, ["sandbox", "exec", "--workspace", str(workspace), "--", "sh", "-c", "echo kept > f"]
    )
    assert done.exit_code == 0, done.output
    assert os.path.ismount(workspace)
    released = runner.invoke(
        app, ["sandbox", "release", "--agent", "x", "--workspace", str(workspace), "--json"]
    )
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["unmounted"] == [str(workspace)]
    assert not os.path.ismount(workspace)
    again = runner.invoke(app, ["sandbox", "exec", "--workspace", str(workspace), "--", "cat", "f"])
    assert again.stdout.strip() == "kept"  # the files live in the image
