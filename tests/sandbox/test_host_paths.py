"""Root never follows a link the agent planted: every path root touches while preparing a
workspace, attacked with a link to a root-only host file, a host directory and a path that
does not exist yet; the control shows the earlier, path-based code escaping.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.breakout import unprotected
from sentinel.errors import SandboxError
from sentinel.sandbox import host_paths
from sentinel.sandbox.launch import NOBODY_UID, SESSION_PINS, session_environment
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.workspace import SESSION_HOME, prepare_workspace

pytestmark = pytest.mark.host

POLICY = SandboxPolicy()
ROOT_TOUCHES = (
    ".git", ".git/HEAD", ".git/info", ".git/info/exclude", ".git/objects", ".git/objects/pack",
    ".git/refs", ".git/refs/heads", ".git/hooks", ".git/config", ".ssh", ".config", ".bashrc",
    ".profile", ".vscode", SESSION_HOME,
)  # fmt: skip
"""Every path below the workspace that root creates, writes, empties or chowns (without a
quota; a quota workspace adds .tmp and .shm, tested below)."""


class Decoys:
    """Root-only host objects next to the workspace, and a check that they are untouched."""

    def __init__(self, base: Path) -> None:
        self.file = base / "decoy.txt"
        self.file.write_text("root only\n")
        self.file.chmod(0o600)
        self.directory = base / "decoy-dir"
        self.directory.mkdir(mode=0o700)
        (self.directory / "keep").write_text("kept\n")
        self.new = base / "decoy-new"

    def targets(self) -> dict[str, Path]:
        return {"file": self.file, "directory": self.directory, "new": self.new}

    def untouched(self) -> bool:
        info, folder = self.file.stat(), self.directory.stat()
        return (
            self.file.read_text() == "root only\n"
            and (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
            and (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (0, 0o700)
            and sorted(p.name for p in self.directory.iterdir()) == ["keep"]
            and not os.path.lexists(self.new)
        )


@pytest.fixture
def decoys(sandbox_base: Path) -> Decoys:
    return Decoys(sandbox_base)


def _plant(workspace: Path, relative: str, target: Path) -> None:
    """What an agent can do in its own workspace: replace an entry by a link."""
    path = workspace / relative
    for name in (".git/HEAD", relative):  # no HEAD: root sets the repository up again
        entry = workspace / name
        if entry.is_dir() and not entry.is_symlink():
            for child in sorted(entry.rglob("*"), reverse=True):
                child.chmod(0o700) if child.is_dir() and not child.is_symlink() else None
                child.rmdir() if child.is_dir() and not child.is_symlink() else child.unlink()
            entry.chmod(0o700)
            entry.rmdir()
        elif os.path.lexists(entry):
            entry.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@pytest.fixture
def prepared(workspace: Path) -> Iterator[Path]:
    prepare_workspace(workspace, POLICY, NOBODY_UID, NOBODY_UID)
    yield workspace


@pytest.mark.parametrize("kind", ["file", "directory", "new"])
@pytest.mark.parametrize("relative", ROOT_TOUCHES)
def test_re_preparing_never_follows_a_planted_link(
    prepared: Path, decoys: Decoys, relative: str, kind: str
) -> None:
    _plant(prepared, relative, decoys.targets()[kind])
    prepare_workspace(prepared, POLICY, NOBODY_UID, NOBODY_UID)
    assert decoys.untouched()
    entry = (prepared / relative).lstat() if os.path.lexists(prepared / relative) else None
    assert entry is None or not stat.S_ISLNK(entry.st_mode)  # replaced, never followed
    assert (prepared / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_a_link_in_a_parent_is_never_followed_either(prepared: Path, decoys: Decoys) -> None:
    policy = SandboxPolicy.model_validate({"filesystem": {"deny": ["{workspace}/a/b/secret"]}})
    (prepared / "a").symlink_to(decoys.directory)
    prepare_workspace(prepared, policy, NOBODY_UID, NOBODY_UID)
    assert decoys.untouched()
    assert (prepared / "a" / "b" / "secret").is_dir() and not (prepared / "a").is_symlink()


@pytest.mark.parametrize("relative", [".git/HEAD", ".git/info/exclude"])
def test_control_path_based_preparation_writes_through_the_link(
    prepared: Path, decoys: Decoys, relative: str
) -> None:
    _plant(prepared, relative, decoys.file if relative.endswith("exclude") else decoys.new)
    unprotected.reprepare(prepared)  # the earlier workspace code
    assert not decoys.untouched()


def test_quota_workspace_re_prepared_with_planted_scratch_links(
    workspace: Path, decoys: Decoys
) -> None:
    prepare_workspace(workspace, POLICY, NOBODY_UID, NOBODY_UID, quota_mb=16)
    for name in (".tmp", ".shm", SESSION_HOME):
        _plant(workspace, name, decoys.directory)
    assert not prepare_workspace(workspace, POLICY, NOBODY_UID, NOBODY_UID, quota_mb=16)
    assert decoys.untouched()
    for name in (".tmp", ".shm", SESSION_HOME):
        info = (workspace / name).lstat()
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == NOBODY_UID
        assert not any((workspace / name).iterdir())


def test_a_session_starts_with_an_empty_home_and_tmp(workspace: Path) -> None:
    prepare_workspace(workspace, POLICY, NOBODY_UID, NOBODY_UID, quota_mb=16)
    for name in (".tmp", SESSION_HOME):
        (workspace / name / "left-over").mkdir()
        (workspace / name / "left-over" / "x.pth").write_text("import os\n")
    (workspace / "work.py").write_text("the agent's work stays\n")
    prepare_workspace(workspace, POLICY, NOBODY_UID, NOBODY_UID, quota_mb=16)
    assert not any((workspace / ".tmp").iterdir()) and not any((workspace / SESSION_HOME).iterdir())
    assert (workspace / "work.py").read_text() == "the agent's work stays\n"


def test_the_session_environment_pins_git_and_python(tmp_path: Path) -> None:
    env = session_environment(POLICY, tmp_path)
    assert env["HOME"] == str(tmp_path / SESSION_HOME)
    assert {k: env[k] for k in SESSION_PINS} == SESSION_PINS
    hostile = SandboxPolicy.model_validate(
        {"environment": {"set": {"PYTHONNOUSERSITE": "", "GIT_CONFIG_GLOBAL": "{workspace}/g"}}}
    )
    env = session_environment(hostile, tmp_path)
    assert env["PYTHONNOUSERSITE"] == "1" and env["GIT_CONFIG_GLOBAL"] == "/dev/null"


@pytest.mark.parametrize("fallback", [False, True], ids=["openat2", "component-walk"])
def test_open_beneath_refuses_links_anywhere(
    sandbox_base: Path, decoys: Decoys, fallback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_paths, "_openat2_missing", fallback)
    root = sandbox_base / "root"
    (root / "real" / "deeper").mkdir(parents=True)
    (root / "real" / "file").write_text("inside\n")
    (root / "link").symlink_to(decoys.directory)
    (root / "real" / "file-link").symlink_to(decoys.file)
    fd = host_paths.open_root(root)
    try:
        inside = host_paths.open_beneath(fd, "real/file", os.O_RDONLY)
        assert os.read(inside, 100) == b"inside\n"
        os.close(inside)
        for relative in ("link/keep", "real/file-link", "link"):
            with pytest.raises(OSError) as caught:
                host_paths.open_beneath(fd, relative, os.O_RDONLY)
            assert caught.value.errno == errno.ELOOP, relative
        for bad in ("../x", "/etc/passwd", "real/../../x"):
            with pytest.raises(SandboxError):
                host_paths.open_beneath(fd, bad, os.O_RDONLY)
    finally:
        os.close(fd)
    with pytest.raises(SandboxError):
        host_paths.open_root(root / "link")


def test_judges_read_workspace_files_without_links_or_fifos(
    sandbox_base: Path, decoys: Decoys
) -> None:
    root = sandbox_base / "ws"
    root.mkdir()
    (root / "plain").write_text("agent text\n")
    (root / "link").symlink_to(decoys.file)
    os.mkfifo(root / "fifo")  # a blocking open would hang the suite forever
    assert host_paths.read_beneath(root, "plain") == b"agent text\n"
    assert host_paths.read_beneath(root, "link") is None
    assert host_paths.read_beneath(root, "fifo") is None
    assert host_paths.read_beneath(root, "missing") is None
