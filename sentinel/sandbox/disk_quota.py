"""A disk quota per workspace: the workspace is an ext4 file system of its own.

It is mounted ``nosuid,nodev,noexec``: besides the size limit, nothing on it can be mapped
executable (not by execve, not by a loader's mmap), and the sandbox's /tmp and /dev/shm
are bound from directories on it, so they share the quota and the noexec.

Every agent runs as the same uid, so per-user quotas cannot tell agents apart, and project
quotas need a host file system prepared for them. Instead each workspace gets a sparse
image file (``.<name>.quota.img`` next to it, holding only what is written) formatted as
ext4 and loop-mounted on the workspace directory: a full workspace answers ENOSPC and the
host's disk is untouched. Creating one costs ~40 ms (measured here); later launches find
it mounted.

The mount lives as long as the workspace: :func:`release` unmounts it (``scratch_dir``
does so for every throwaway workspace), and the image keeps the files for the next mount.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import leftovers, loop_mount

QUOTA_SUFFIX: Final = ".quota.img"
MNT_DETACH: Final = 2
UMOUNT_NOFOLLOW: Final = 8
"""From ``sys/mount.h``: a link at the mount point's path is not followed."""
COMMAND_TIMEOUT_S: Final = 30.0
SEARCH_PATH: Final = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
)
"""mkfs lives in sbin, which a non-login PATH may lack."""


def unescape(field: str) -> str:
    r"""A /proc/self/mountinfo path field with its octal escapes (\040 and the like) undone."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def image_path(workspace: Path) -> Path:
    """Where the workspace's image lives (next to it, hidden)."""
    return workspace.parent / f".{workspace.name}{QUOTA_SUFFIX}"


def _run(argv: list[str]) -> None:
    tool = shutil.which(argv[0], path=SEARCH_PATH)
    if tool is None:
        raise SandboxError(
            f"the workspace disk quota needs {argv[0]}: apt-get install e2fsprogs mount "
            "(or set resources.disk_mb = 0 to run without a quota)"
        )
    done = subprocess.run(
        [tool, *argv[1:]], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:3])}: {done.stderr.strip() or done.returncode}")


def _format(image: Path, size_mb: int, uid: int, gid: int) -> None:
    # Exclusive and not through a link: the image's directory is the host's, but a name
    # there must never lead root's write elsewhere.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(image, flags, 0o600)
    try:
        os.ftruncate(fd, size_mb << 20)  # sparse: the image holds only what is written
    finally:
        os.close(fd)
    # lazy_journal_init: mke2fs does not write the 32 MiB journal of a 1 GiB image out in
    # zeros. The image is a fresh sparse file, so the unwritten journal already reads as
    # zeros (the stale-data risk the option carries on a reused device does not exist here);
    # the image then starts at ~0.7 MB instead of ~33 MB, which a suite making thousands of
    # workspaces, or a host disk, notices.
    options = f"root_owner={uid}:{gid},nodiscard,lazy_journal_init=1"
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", options, str(image)])


def _check_image(image: Path) -> os.stat_result:
    info = image.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise SandboxError(
            f"{image} is not a root-owned 0600 regular file; Sentinel will not mount it "
            "(remove it if it is not a workspace image Sentinel made)"
        )
    return info


def _mount(image: Path, target: Path) -> None:
    # noexec: the kernel refuses to map files from here executable, which is what stops
    # "ld.so ./binary" (Landlock's execute right covers execve, not a loader's mmap).
    # System calls, not mount(8): a fork and two execs less on every cold launch.
    if not Path(loop_mount.LOOP_CONTROL).exists():  # a static /dev: mount(8) finds a way
        _run(["mount", "-o", "loop,nosuid,nodev,noexec", str(image), str(target)])
        return
    try:
        loop_mount.mount_image(image, target)
    except OSError as exc:
        raise SandboxError(f"cannot mount the workspace image {image}: {exc}") from None


_mounted_here: set[Path] = set()
"""Quota file systems this process mounted and has not released yet (released at exit)."""


def _release_at_exit() -> None:
    for point in sorted(_mounted_here, key=lambda p: len(p.parts), reverse=True):
        try:
            _unmount(point)
            leftovers.give_back("mount", point)
        except SandboxError as exc:  # nobody is left to raise to: say it, gc will find it
            print(f"sentinel: {exc} (sentinel-run sandbox gc removes it)", file=sys.stderr)
    _mounted_here.clear()


atexit.register(_release_at_exit)


def ensure_quota(workspace: Path, size_mb: int, uid: int, gid: int) -> bool:
    """Mount the workspace's quota file system (creating it on first use); idempotent.

    A workspace that already holds files and has no image yet gets them copied into the
    new file system (the originals stay, hidden under the mount). A mount this call makes
    is released by :func:`release`, or when the process exits (signals the CLI turns into
    an exit included; ``sentinel-run sandbox gc`` after a crash).

    Returns:
        Whether this call mounted it (False: it was mounted already).

    Raises:
        SandboxError: The tools are missing, or the image cannot be made or mounted.
    """
    if os.path.ismount(workspace):
        return False
    image = image_path(workspace)
    if not os.path.lexists(image):
        _format(image, size_mb, uid, gid)
        with tempfile.TemporaryDirectory(dir=workspace.parent) as staging:
            _mount(image, Path(staging))
            try:
                (Path(staging) / "lost+found").rmdir()  # fresh: empty, and ours
            finally:
                _unmount(Path(staging))
        if any(workspace.iterdir()):
            with tempfile.TemporaryDirectory(dir=workspace.parent) as staging:
                _mount(image, Path(staging))
                try:  # -a copies links as links (never follows them) into a fresh file system
                    _run(["cp", "-a", f"{workspace}/.", staging])
                finally:
                    _unmount(Path(staging))
    elif (size := _check_image(image).st_size) != size_mb << 20:
        raise SandboxError(
            f"{image} holds a {size >> 20} MiB quota, the policy asks for "
            f"{size_mb} MiB; remove the image (its files go with it) or keep the old size"
        )
    leftovers.take("mount", workspace)  # before the mount: a crash in between leaves a lease
    _mount(image, workspace)
    _mounted_here.add(workspace)
    return True


def _unmount(target: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"cannot unmount {target}: {os.strerror(err)}")


def mounts_below(path: Path) -> list[Path]:
    """Mount points at or below ``path`` (deepest first)."""
    prefix = str(path.resolve())
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = unescape(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def release(path: Path) -> None:
    """Unmount every quota file system at or below ``path`` (the images stay).

    Raises:
        SandboxError: A file system could not be unmounted (the others still are).
    """
    failures = []
    for point in mounts_below(path):
        try:
            _unmount(point)
        except SandboxError as exc:
            failures.append(str(exc))
            continue
        _mounted_here.discard(point)
        leftovers.give_back("mount", point)
    if failures:
        raise SandboxError("; ".join(failures))


def discard(workspace: Path) -> None:
    """Unmount a throwaway workspace's quota file system, then delete it and its image.

    The removal goes by directory descriptors and never follows a link the agent left
    (``shutil.rmtree`` on Linux; checked by ``shutil.rmtree.avoids_symlink_attacks``).

    Raises:
        SandboxError: It could not be unmounted or removed.
    """
    release(workspace)
    if not shutil.rmtree.avoids_symlink_attacks:  # pragma: no cover - Linux always has it
        raise SandboxError("this Python's rmtree could follow links; not removing as root")
    try:
        if workspace.is_symlink():
            workspace.unlink()
        elif workspace.exists():
            shutil.rmtree(workspace)
        image_path(workspace).unlink(missing_ok=True)
    except OSError as exc:
        raise SandboxError(f"cannot remove the workspace {workspace}: {exc}") from None
