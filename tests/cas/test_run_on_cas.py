"""The main job with the agents' workspaces on CAS mounts: snapshots recorded, dedup reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.agents.options import RunOptions
from sentinel.agents.runtime import run
from sentinel.audit.verify import verify_store
from sentinel.cas import directory_tree_id
from sentinel.cas.checkout import checkout
from sentinel.cas.history import list_snapshots
from sentinel.cas.run_workspaces import objects_beside
from sentinel.errors import InvalidInputError

pytestmark = pytest.mark.host

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_workspace_fs_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="--workspace-fs"):
        RunOptions(config=CONFIG, workspace_fs="zfs")


@pytest.mark.timeout(900)
def test_a_short_shift_on_cas_records_snapshots_and_reports_dedup(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    options = RunOptions(config=CONFIG, hours=1.0, store=store, workspace_fs="cas", probes="off")
    summary = run(options)
    assert summary.chain_verified
    report = summary.workspaces
    assert report["fs"] == "cas"
    assert report["objects"] == str(objects_beside(store))
    assert report["agents"] >= 1
    assert report["stored_bytes"] > 0
    assert report["dedup_ratio"] == pytest.approx(
        report["logical_bytes"] / report["stored_bytes"], rel=1e-2
    )
    mounts = Path("/proc/self/mountinfo").read_text()
    assert " sentinel-cas " not in mounts  # every agent's mount was unmounted
    snapshots = list_snapshots(store)
    assert len(snapshots) == report["snapshots"] >= report["agents"]
    reasons = [s.reason for s in snapshots]
    assert set(reasons) <= {"commit", "tick", "end"}
    assert reasons.count("commit") >= summary.work["commits"] >= 1  # each commit recorded
    assert verify_store(store).ok
    # Each agent's last snapshot is restorable from the store that outlives the run.
    last = {s.agent_id: s.root for s in snapshots}
    agent, root = sorted(last.items())[0]
    target = tmp_path / f"restored-{agent}"
    assert checkout(objects_beside(store), root, target) >= 1
    assert directory_tree_id(target) == root
