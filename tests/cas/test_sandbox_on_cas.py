"""A CAS workspace under the real sandbox (bubblewrap + Landlock + the rest of the policy).

Fails, never skips, when a layer is unavailable: the sandbox refuses to run then.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.breakout import ALL, Family, SuiteReport, run_suite
from sentinel.cas import directory_tree_id
from sentinel.sandbox.disk_quota import mounts_below
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import scratch_dir
from tests.cas.conftest import MountFactory

pytestmark = pytest.mark.host

POLICY = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
WORKSPACE_FAMILIES = {Family.FILESYSTEM, Family.PERSISTENCE}
"""The scenarios that attack the workspace and the file system through it."""


def test_sandboxed_command_works_on_a_cas_workspace(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    policy = SandboxPolicy.from_toml(POLICY)
    script = (
        "import os, pathlib; p = pathlib.Path('notes/today.txt'); p.parent.mkdir();"
        "p.write_text('from the sandbox'); print(os.getuid(), sorted(os.listdir('.')))"
    )
    result = run_once(
        policy, ["/usr/bin/python3", "-c", script], workspace=workspace.mountpoint,
        agent_id="cas-agent",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr.decode()
    assert {"bwrap", "landlock", "seccomp", "workspace-cas"} <= set(result.layers)
    assert "workspace-fs" not in result.layers  # no ext4 mounted over the CAS mount
    uid = int(result.stdout.split()[0])
    assert uid != 0
    written = workspace.mountpoint / "notes" / "today.txt"
    assert written.read_text() == "from the sandbox"
    assert written.stat().st_uid == uid  # created by the agent's uid, as the kernel said
    root = workspace.snapshot("commit")
    assert root == directory_tree_id(workspace.mountpoint)


def test_sandboxed_command_cannot_exec_from_a_cas_workspace(mount_cas: MountFactory) -> None:
    """The negative control is the same script run as root outside the sandbox on ext4."""
    workspace = mount_cas()
    policy = SandboxPolicy.from_toml(POLICY)
    script = (
        "import os, shutil; shutil.copy('/usr/bin/true', 'mytrue'); os.chmod('mytrue', 0o755);"
        "os.execv('./mytrue', ['mytrue'])"
    )
    result = run_once(
        policy, ["/usr/bin/python3", "-c", script], workspace=workspace.mountpoint,
        agent_id="cas-agent",
    )  # fmt: skip
    assert result.exit_code != 0
    assert b"PermissionError" in result.stderr
    assert (workspace.mountpoint / "mytrue").exists()


@pytest.fixture(scope="module")
def cas_report() -> Iterator[SuiteReport]:
    with scratch_dir("sentinel-cas-breakout") as where:
        scenarios = [s for s in ALL if s.family in WORKSPACE_FAMILIES]
        report = run_suite(
            SandboxPolicy.from_toml(POLICY), scenarios, store_path=where / "audit.db",
            workspace_fs="cas",
        )  # fmt: skip
        yield report
        assert not mounts_below(Path(report.arena))  # this suite's arena, not others' runs


@pytest.mark.timeout(900)
def test_breakout_workspace_scenarios_pass_on_cas(cas_report: SuiteReport) -> None:
    got_out = {
        r.scenario.id: r.outcome.evidence
        for r in cas_report.scenarios
        if r.verdict in ("escaped", "error") or r.outcome.result in ("escaped", "error")
    }
    assert got_out == {}
    assert len(cas_report.scenarios) >= 30
    for r in cas_report.scenarios:  # blocked is earned: exactly where the control escaped
        assert (r.verdict == "blocked") == r.control_escaped, (r.scenario.id, r.verdict_reason)
    assert sum(r.verdict == "blocked" for r in cas_report.scenarios) >= 25
