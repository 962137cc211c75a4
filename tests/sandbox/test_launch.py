"""``SandboxLaunch``: a launch that fails while it is being built gives its uid back."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sentinel.errors import SandboxError
from sentinel.sandbox.agent_uid import LEASE_DIR, in_range, lease
from sentinel.sandbox.cgroup import AgentCgroup
from sentinel.sandbox.disk_quota import release
from sentinel.sandbox.launch import SandboxLaunch
from sentinel.sandbox.policy import SandboxPolicy

pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(os.geteuid() != 0, reason="only a root launcher leases a uid"),
]

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
AGENT = "launch-lease-test"


def test_a_failed_prepare_gives_the_uid_lease_back(sandbox_base: Path) -> None:
    closed = sandbox_base / "closed"
    closed.mkdir(mode=0o700)  # the sandbox uid cannot traverse it: prepare refuses
    with pytest.raises(SandboxError, match="not reachable by the sandbox uid") as failed:
        SandboxLaunch(POLICY, closed / "ws", AGENT, layers=())
    found = re.search(r"sandbox uid (\d+)", str(failed.value))
    assert found is not None
    uid = int(found.group(1))
    assert in_range(uid)  # the launch had leased it before prepare failed
    # ``failed`` still holds the traceback, and through it the half-built launch: the uid
    # must be free now, not when the garbage collector drops the launch.
    assert not (LEASE_DIR / str(uid)).exists()
    again = lease(AGENT)  # the same agent's first choice is that uid again
    try:
        assert again.uid == uid
    finally:
        again.release()


def test_a_launch_failing_after_the_mount_unmounts_it(
    sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step after prepare fails: the quota file system that launch mounted is released."""
    workspace = sandbox_base / "ws-mounted"
    workspace.mkdir()

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise SandboxError("injected: the cgroup could not be made")

    monkeypatch.setattr(AgentCgroup, "unique", refuse)
    with pytest.raises(SandboxError, match="injected"):
        SandboxLaunch(POLICY, workspace, AGENT)
    assert not os.path.ismount(workspace)


def test_control_the_same_launch_mounts_its_workspace(sandbox_base: Path) -> None:
    """Control for the test above: the launch does mount the workspace when nothing fails."""
    workspace = sandbox_base / "ws-mounted-control"
    workspace.mkdir()
    launch = SandboxLaunch(POLICY, workspace, AGENT)
    try:
        assert launch.mounted and os.path.ismount(workspace)
    finally:
        launch.teardown()
        release(workspace)
    assert not os.path.ismount(workspace)
