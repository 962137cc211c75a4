"""``sentinel-run workspace snapshots | restore | stats`` on a recorded snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import cli
from sentinel.audit.store import AuditStore
from sentinel.cas import directory_tree_id
from tests.cas.conftest import MountFactory

pytestmark = pytest.mark.host

runner = CliRunner()


def test_snapshots_restore_and_stats(
    mount_cas: MountFactory, sandbox_base: Path, tmp_path: Path
) -> None:
    audit_path = tmp_path / "audit.db"
    with AuditStore(audit_path) as audit:
        workspace = mount_cas(agent_id="AGENT-02", audit=audit)
        (workspace.mountpoint / "notes.md").write_text("# notes\n")
        root = workspace.snapshot("commit", tick=7)

    listed = runner.invoke(
        cli.app, ["workspace", "snapshots", "--store", str(audit_path), "--json"]
    )
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.output)
    assert [(r["agent_id"], r["reason"], r["tick"], r["root"]) for r in records] == [
        ("AGENT-02", "commit", 7, root)
    ]
    table = runner.invoke(cli.app, ["workspace", "snapshots", "--store", str(audit_path)])
    assert root[:16] in table.output

    objects = str(workspace.store.path)
    target = sandbox_base / "restored"
    restored = runner.invoke(
        cli.app, ["workspace", "restore", root, str(target), "--objects", objects, "--json"]
    )
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.output)["entries"] == 1
    assert (target / "notes.md").read_text() == "# notes\n"
    assert directory_tree_id(target) == root

    bad = runner.invoke(cli.app, ["workspace", "restore", "f" * 64, str(sandbox_base / "x"),
                                  "--objects", objects])  # fmt: skip
    assert bad.exit_code != 0
    assert "object store" in bad.output

    stats = runner.invoke(cli.app, ["workspace", "stats", "--objects", objects, "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["objects"] >= 2
