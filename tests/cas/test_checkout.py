"""Snapshots read back without a mount: checkout into a host directory, tree decoding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given

from sentinel.cas import directory_tree_id, encode_tree, object_id
from sentinel.cas.checkout import checkout, decode_tree, object_path, store_size
from sentinel.cas.reference import Entry
from sentinel.errors import InvalidInputError, StoreCorruptError
from tests.cas.conftest import MountFactory
from tests.cas.test_reference import entries


@given(entries)
def test_decode_inverts_encode(listing: list[Entry]) -> None:
    assert decode_tree(encode_tree(listing), "t") == sorted(listing, key=lambda e: e[4])


@pytest.mark.parametrize(
    "bad",
    [b"file 0644 0 0 name", b"blob 0644 0 0 n\0" + b"0" * 64 + b"\n",
     b"file 0844 0 0 n\0" + b"0" * 64 + b"\n", b"file 0644 00 0 n\0" + b"0" * 64 + b"\n",
     b"file 0644 0 0 a/b\0" + b"0" * 64 + b"\n"],
)  # fmt: skip
def test_malformed_trees_are_refused_with_the_offset(bad: bytes) -> None:
    with pytest.raises(StoreCorruptError, match="byte 0"):
        decode_tree(bad, "t")


@pytest.mark.host
def test_checkout_reproduces_the_snapshot(mount_cas: MountFactory, sandbox_base: Path) -> None:
    workspace = mount_cas()
    root = workspace.mountpoint
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_bytes(os.urandom(10_000))
    (root / "empty").write_bytes(b"")
    (root / "l").symlink_to("a/b/f")
    snapshot = workspace.snapshot()
    store = workspace.store.path
    target = sandbox_base / "checked-out"
    assert checkout(store, snapshot, target) == 5
    target.chmod(root.stat().st_mode & 0o7777)
    assert directory_tree_id(target) == snapshot
    assert store_size(store).objects >= 5
    with pytest.raises(InvalidInputError, match="exists"):
        checkout(store, snapshot, target)


@pytest.mark.host
def test_checkout_refuses_a_corrupt_object(mount_cas: MountFactory, sandbox_base: Path) -> None:
    workspace = mount_cas()
    (workspace.mountpoint / "f").write_bytes(b"original")
    snapshot = workspace.snapshot()
    blob = object_path(workspace.store.path, object_id("file", b"original"))
    blob.chmod(0o600)
    blob.write_bytes(b"tampered")
    with pytest.raises(StoreCorruptError, match="does not match"):
        checkout(workspace.store.path, snapshot, sandbox_base / "out")
