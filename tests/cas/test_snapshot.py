"""Snapshots and restores through the real mount, and deduplication across mounts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinel.audit.store import AuditStore
from sentinel.audit.verify import verify_store
from sentinel.cas import directory_tree_id
from sentinel.cas.history import list_snapshots
from sentinel.cas.workspace import WORKSPACE_STREAM
from sentinel.errors import InvalidInputError
from tests.cas.conftest import MountFactory

pytestmark = pytest.mark.host


def _tree(root: Path) -> dict[str, bytes | str | None]:
    """Every path below ``root``: file bytes, link target, or None for a directory."""
    found: dict[str, bytes | str | None] = {}
    for where, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(where) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = str(path.readlink())
            elif path.is_dir():
                found[key] = None
            else:
                found[key] = path.read_bytes()
    return found


def test_snapshot_modify_restore_is_byte_exact(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    root = workspace.mountpoint
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_bytes(b"print('v1')\n")
    (root / "big.bin").write_bytes(os.urandom(300_000))
    (root / "link").symlink_to("src/pkg/mod.py")
    (root / "ro").write_text("read only")
    (root / "ro").chmod(0o444)
    before = _tree(root)
    first = workspace.snapshot()
    assert first == directory_tree_id(root)

    (root / "src" / "pkg" / "mod.py").write_bytes(b"print('v2')\n")
    (root / "big.bin").unlink()
    (root / "new").mkdir()
    (root / "new" / "file").write_text("later")
    second = workspace.snapshot()
    assert second != first
    assert second == directory_tree_id(root)

    workspace.restore(first)
    assert _tree(root) == before
    assert (root / "ro").stat().st_mode & 0o777 == 0o444
    assert directory_tree_id(root) == first
    workspace.restore(second)
    assert (root / "new" / "file").read_text() == "later"
    assert not (root / "big.bin").exists()


def test_snapshot_is_recorded_in_the_audit_chain(mount_cas: MountFactory, tmp_path: Path) -> None:
    audit = AuditStore(tmp_path / "audit.db")
    try:
        workspace = mount_cas(agent_id="AGENT-01", audit=audit)
        (workspace.mountpoint / "f").write_text("x")
        root = workspace.snapshot("tick", tick=3)
        events = list(audit.read(stream=WORKSPACE_STREAM))
    finally:
        audit.close()
    assert verify_store(tmp_path / "audit.db").ok
    assert [record.root for record in list_snapshots(tmp_path / "audit.db")] == [root]
    assert [event.type for event in events] == ["workspace.snapshot"]
    payload = events[0].payload
    assert payload["root"] == root
    assert payload["agent_id"] == "AGENT-01"
    assert payload["reason"] == "tick"
    assert payload["tick"] == 3
    assert payload["inodes"] == 2


def test_restore_refuses_unknown_and_malformed_roots(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    (workspace.mountpoint / "kept").write_text("still here")
    with pytest.raises(InvalidInputError, match="hex"):
        workspace.restore("not-a-root")
    with pytest.raises(InvalidInputError, match="cannot restore"):
        workspace.restore("0" * 64)
    assert (workspace.mountpoint / "kept").read_text() == "still here"


def test_two_mounts_share_one_store_and_deduplicate(mount_cas: MountFactory) -> None:
    alice = mount_cas("ws-alice")
    bob = mount_cas("ws-bob")
    payload = os.urandom(64 * 1024)
    (alice.mountpoint / "shared.bin").write_bytes(payload)
    alice.snapshot()  # commits now (a close commits at RELEASE, which the kernel sends later)
    stats = alice.store.stats()
    assert stats.stored_bytes == len(payload)
    (bob.mountpoint / "copy.bin").write_bytes(payload)
    (bob.mountpoint / "other.bin").write_bytes(b"different")
    bob.snapshot()
    stats = bob.store.stats()
    assert stats.logical_bytes == 2 * len(payload) + len(b"different")
    assert stats.stored_bytes == len(payload) + len(b"different")
    assert stats.dedup_hits == 1
    assert stats.ratio == pytest.approx((2 * len(payload) + 9) / (len(payload) + 9))
    # A snapshot of one mount restores on the other: the objects are the store's.
    root = alice.snapshot()
    bob.restore(root)
    assert sorted(p.name for p in bob.mountpoint.iterdir()) == ["shared.bin"]
    assert (bob.mountpoint / "shared.bin").read_bytes() == payload


def test_objects_are_named_by_hash_only(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    (workspace.mountpoint / "..evil name; rm -rf").write_text("x")
    workspace.snapshot()
    names = {path.name for path in (workspace.store.path / "objects").rglob("*")}
    assert all(len(name) in (2, 62) and set(name) <= set("0123456789abcdef") for name in names)
