"""The suite's runner removes each attempt's workspace and quota image once it is judged.

A layer matrix makes ~2,000 workspaces; kept until the arena closes, their images filled a
CI host's disk (mke2fs then failed with ENOSPC in the middle of the matrix).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.breakout import ALL
from sentinel.breakout.arena import Arena
from sentinel.breakout.runner import SuiteRunner
from sentinel.sandbox.disk_quota import mounts_below
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.workspace import scratch_dir

pytestmark = pytest.mark.host

POLICY = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"


def test_no_workspace_or_image_outlives_its_verdict() -> None:
    scenario = next(s for s in ALL if s.id.startswith("fs-") and s.control_skip is None)
    with (
        scratch_dir("sentinel-breakout-cleanup") as base,
        AuditStore(base / "audit.db") as store,
        Arena(SandboxPolicy.from_toml(POLICY), base / "audit.db") as arena,
    ):
        report = SuiteRunner(arena, store).run(scenario, matrix=True)
        assert report.matrix and report.alone  # the matrix ran: many workspaces were made
        left = [p.name for p in arena.root.iterdir() if p.name.startswith(("ws-", "control-"))]
        images = [p.name for p in arena.root.glob(".*.quota.img")]
        assert left == [] and images == []
        assert mounts_below(arena.root) == []
