"""The native Merkle root equals the Python reference (house rule: native == reference)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.cas import CasWorkspace, directory_tree_id, encode_tree, object_id
from sentinel.cas.reference import Entry, Kind

names = st.binary(min_size=1, max_size=40).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b"..")
)
kinds = st.sampled_from(["file", "dir", "link"])
ids = st.binary(min_size=32, max_size=32).map(bytes.hex)
entries = st.lists(
    st.tuples(kinds, st.integers(0, 0o7777), st.integers(0, 2**32 - 1),
              st.integers(0, 2**32 - 1), names, ids),
    unique_by=lambda entry: entry[4],
    max_size=12,
)  # fmt: skip


@given(st.sampled_from(["file", "dir", "link"]), st.binary(max_size=2000))
def test_object_id_native_equals_reference(kind: Kind, payload: bytes) -> None:
    assert _native.cas_object_id(kind, payload) == object_id(kind, payload)


@given(entries)
def test_tree_encoding_native_equals_reference(listing: list[Entry]) -> None:
    assert _native.cas_encode_tree(listing) == encode_tree(listing)


# A small tree: names from a short alphabet (collisions and nesting are likely), contents
# that repeat (deduplication), links with arbitrary targets.
file_names = st.text(alphabet="abc.-_ é", min_size=1, max_size=6).filter(
    lambda name: name not in (".", "..")
)
leaves = st.one_of(
    st.binary(max_size=300).map(lambda data: ("file", data)),
    st.text(alphabet="abc/.", min_size=1, max_size=20).map(lambda target: ("link", target)),
)
trees = st.recursive(
    leaves,
    lambda children: st.dictionaries(file_names, children, max_size=4).map(lambda d: ("dir", d)),
    max_leaves=12,
)


def _write(where: Path, node: tuple[str, object]) -> None:
    kind, value = node
    if kind == "file":
        assert isinstance(value, bytes)
        where.write_bytes(value)
        where.chmod(0o640)
    elif kind == "link":
        where.symlink_to(str(value))
    else:
        where.mkdir()
        assert isinstance(value, dict)
        for name, child in value.items():
            _write(where / name, child)


@pytest.mark.host
def test_snapshot_root_native_equals_reference(mount_cas: object, sandbox_base: Path) -> None:
    """One mount for every example: the tree is written through FUSE, snapshotted natively,
    and the reference walks the same mount; the reference also walks an ext4 copy."""
    workspace: CasWorkspace = mount_cas()  # type: ignore[operator]
    root = workspace.mountpoint
    plain = sandbox_base / "plain"

    @settings(max_examples=60)
    @given(trees)
    def check(tree: tuple[str, object]) -> None:
        for path in root.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        shutil.rmtree(plain, ignore_errors=True)
        _, children = tree if tree[0] == "dir" else ("dir", {"only": tree})
        assert isinstance(children, dict)
        _write(plain, ("dir", children))
        for name, child in children.items():
            _write(root / name, child)
        native = workspace.snapshot()
        assert native == directory_tree_id(root)
        plain.chmod(root.stat().st_mode & 0o7777)
        os.chown(plain, root.stat().st_uid, root.stat().st_gid)
        assert native == directory_tree_id(plain)

    check()
