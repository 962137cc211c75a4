"""Fixtures of the CAS workspace tests: a store and mounts that are always unmounted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentinel.cas import CasStore, CasWorkspace
from sentinel.sandbox.disk_quota import mounts_below

MountFactory = Callable[..., CasWorkspace]


@pytest.fixture
def cas_store(sandbox_base: Path) -> CasStore:
    """A fresh object store under the scratch directory (unmounted and removed after)."""
    return CasStore(sandbox_base / "store")


@pytest.fixture
def mount_cas(sandbox_base: Path, cas_store: CasStore) -> Iterator[MountFactory]:
    """Mounts CAS workspaces on the shared store; every one is unmounted after the test,
    failed or not, and the test fails if a mount is left behind."""
    made: list[CasWorkspace] = []

    def mount(name: str = "ws", **options: object) -> CasWorkspace:
        point = sandbox_base / name
        point.mkdir()
        workspace = CasWorkspace(cas_store, point, **options)  # type: ignore[arg-type]
        made.append(workspace)
        return workspace

    try:
        yield mount
    finally:
        for workspace in made:
            workspace.close()
    assert not [p for p in mounts_below(sandbox_base) if "ws" in p.name], "a mount leaked"
