"""``replay`` of a run on CAS workspaces rebuilds every recorded snapshot, and says which
cannot be rebuilt once the run's object store lost or changed an object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import cli
from sentinel.agents import replay
from sentinel.agents.options import RunOptions
from sentinel.agents.runtime import run
from sentinel.cas.checkout import decode_tree, object_path, read_object
from sentinel.cas.history import list_snapshots
from sentinel.cas.run_workspaces import objects_beside

pytestmark = pytest.mark.host

CONFIG = Path(__file__).resolve().parents[2] / "config"
runner = CliRunner()


def _files(objects: Path, root: str, prefix: str = "") -> dict[str, str]:
    """Path -> blob id of every file in snapshot ``root``."""
    found: dict[str, str] = {}
    for kind, _mode, _uid, _gid, name, ident in decode_tree(
        read_object(objects, "dir", root), root
    ):
        path = f"{prefix}{name.decode()}"
        if kind == "dir":
            found.update(_files(objects, ident, f"{path}/"))
        elif kind == "file":
            found[path] = ident
    return found


@pytest.mark.timeout(900)
def test_replay_rebuilds_every_snapshot_and_names_a_tampered_object(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    run(RunOptions(config=CONFIG, hours=1.0, store=store, workspace_fs="cas", probes="off"))
    snapshots = list_snapshots(store)
    assert snapshots

    report = replay(store)
    assert report.equal and report.workspace_differences == []
    assert report.workspace_snapshots == len(snapshots)
    shown = runner.invoke(cli.app, ["replay", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert f"{len(snapshots)} rebuilt, every root equal" in shown.output

    # Tamper: in some snapshot, a file no other root holds is deleted and a shared one altered.
    objects = objects_beside(store)
    files = {s.root: _files(objects, s.root) for s in snapshots}
    holders: dict[str, int] = {}
    for listing in files.values():
        for ident in set(listing.values()):
            holders[ident] = holders.get(ident, 0) + 1
    target, own, shared = next(
        (root, own, shared)
        for root, listing in files.items()
        if (own := sorted((p, i) for p, i in listing.items() if holders[i] == 1))
        and (shared := sorted((p, i) for p, i in listing.items() if holders[i] > 1))
    )
    (deleted_path, deleted), (altered_path, altered) = own[0], shared[0]
    object_path(objects, deleted).unlink()
    object_path(objects, altered).write_bytes(b"not what was committed\n")

    tampered = replay(store)
    assert not tampered.equal
    assert tampered.recorded_hash == tampered.replayed_hash  # only the workspaces differ
    assert tampered.workspace_snapshots == len(snapshots)
    using_altered = [s for s in snapshots if altered in files[s.root].values()]
    assert len(tampered.workspace_differences) == len(using_altered) >= 2
    for snapshot in (s for s in snapshots if s.root == target):
        line = next(d for d in tampered.workspace_differences if f"#{snapshot.position} " in d)
        assert f"({snapshot.agent_id}, {snapshot.reason}" in line
        assert f"{deleted_path}: file object {deleted} is missing from the object store" in line
        assert f"{altered_path}: file object {altered} was altered" in line

    failed = runner.invoke(cli.app, ["replay", "--store", str(store)])
    assert failed.exit_code == 1
    assert f"{len(using_altered)} of {len(snapshots)} not restorable" in failed.output
    assert failed.output.count("workspace:") == len(using_altered)
    as_json = runner.invoke(cli.app, ["replay", "--store", str(store), "--json"])
    document = json.loads(as_json.output)
    assert document["equal"] is False
    assert document["workspace_differences"] == tampered.workspace_differences
