"""find_executable (os.path, on every launch's cache key) answers as its pathlib original did."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.sandbox.capabilities.executables import SYSTEM_BIN_DIRS, find_executable

DIRS = ["/opt/a", "/opt/b/", "/opt//c", "relative", "/usr/bin", "/sbin", "/missing"]
NAMES = ["tool", "plain", "folder"]


def _reference(name: str, root: Path) -> str | None:
    """The pathlib version this replaced."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for directory in (*dirs, *SYSTEM_BIN_DIRS):
        candidate = root / directory.lstrip("/") / name
        try:
            found = candidate.is_file() and os.access(candidate, os.X_OK)
        except OSError:
            continue
        if found:
            return str(Path(directory) / name)
    return None


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("root")
    for directory in ("opt/a", "opt/b", "opt/c", "relative", "usr/bin", "sbin"):
        (base / directory).mkdir(parents=True)
    for directory, mode in (
        ("opt/b", 0o755),
        ("opt/c", 0o755),
        ("usr/bin", 0o755),
        ("sbin", 0o700),
    ):
        (base / directory / "tool").write_bytes(b"")
        (base / directory / "tool").chmod(mode)
    (base / "opt/a/plain").write_bytes(b"")  # not executable
    (base / "relative/folder").mkdir()  # a directory is not a program
    (base / "sbin/folder").write_bytes(b"")
    (base / "sbin/folder").chmod(0o755)
    return base


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(path=st.lists(st.sampled_from([*DIRS, ""]), max_size=5), name=st.sampled_from(NAMES))
def test_same_answer_as_the_pathlib_version(
    root: Path, path: list[str], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    assert find_executable(name, root) == _reference(name, root)


def test_finds_and_refuses(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/opt/a:/opt/b/")
    assert find_executable("tool", root) == "/opt/b/tool"
    assert find_executable("plain", root) is None  # present but not executable
    assert find_executable("folder", root) == "/sbin/folder"  # the directory is skipped
