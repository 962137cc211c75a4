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
Every mount, unmount and removal of an image happens under the image's lock
(:mod:`sentinel.sandbox.image_lock`), which ``sentinel-run sandbox gc`` respects; a
process about to exit may hand its unmounts to a detached child that holds those locks
(:func:`release_detached`).
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
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sentinel.errors import ImageLockedError, SandboxError
from sentinel.sandbox import image_lock, leftovers, loop_mount

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


def _format(image: Path, size_mb: int, uid: int, gid: int) -> image_lock.ImageLock:
    """Create and format a new image; returns its lock, taken before anything is written.

    Raises:
        FileExistsError: Something is at the image's name already (another launcher's).
    """
    # Exclusive and not through a link: the image's directory is the host's, but a name
    # there must never lead root's write elsewhere.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(image, flags, 0o600)
    held = image_lock.lock_fd(image, fd)  # a fresh inode: nobody else has it open yet
    try:
        os.ftruncate(fd, size_mb << 20)  # sparse: the image holds only what is written
        # lazy_journal_init: mke2fs does not write the 32 MiB journal of a 1 GiB image out
        # in zeros. The image is a fresh sparse file, so the unwritten journal already reads
        # as zeros (the stale-data risk the option carries on a reused device does not exist
        # here); the image then starts at ~0.7 MB instead of ~33 MB, which a suite making
        # thousands of workspaces, or a host disk, notices.
        options = f"root_owner={uid}:{gid},nodiscard,lazy_journal_init=1"
        _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", options, str(image)])
    except BaseException:
        held.release()
        raise
    return held


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
            release_point(point)
        except SandboxError as exc:  # nobody is left to raise to: say it, gc will find it
            print(f"sentinel: {exc} (sentinel-run sandbox gc removes it)", file=sys.stderr)
    _mounted_here.clear()


atexit.register(_release_at_exit)


def release_detached() -> int | None:
    """Hand the unmount of this process's mounts to a detached child; for a process about to exit.

    The unmount of a workspace that was written to costs tens of milliseconds (ext4 commits
    its journal and the loop device flushes the image; see docs/architecture.md, "Speed"),
    which a one-shot ``sentinel-run sandbox exec`` would otherwise pay before its caller
    sees it exit. The images' locks are taken here, before the fork; the child inherits
    them (a ``flock`` belongs to the open file, shared across ``fork``), takes the mounts'
    leases as its own, unmounts, gives the leases back and exits. Until then the next
    launch, release or gc on the same image waits for the lock (gc: keeps the mount).
    If the child dies first, the kernel drops the locks, and ``sandbox gc`` finds the
    leases dead and the images free. The child's stdin and stdout are ``/dev/null`` (a
    caller reading the process's output sees it end when the process exits); its stderr
    stays only on a terminal, where an unmount error is still said; otherwise the lease it
    leaves is what reports it (gc).

    Returns:
        The child's pid, or None when this process has nothing mounted.

    Raises:
        SandboxError: An image's lock could not be taken (nothing was handed over).
    """
    points = sorted(_mounted_here, key=lambda p: len(p.parts), reverse=True)
    if not points:
        return None
    held: list[image_lock.ImageLock] = []
    try:
        for point in points:
            image = image_of(point)
            if image is not None:
                with contextlib.suppress(FileNotFoundError):
                    held.append(image_lock.hold(image))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: measured by the tests' census
            _unmount_as_child(points)
    finally:
        for lock in held:
            lock.release()  # the child's copies keep them held
    _mounted_here.clear()
    return pid


def _unmount_as_child(points: list[Path]) -> None:
    """The detached child of :func:`release_detached`: never returns."""
    status = 0
    try:
        os.setsid()  # a terminal's Ctrl-C to the caller's group does not cut it short
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1) if os.isatty(2) else (0, 1, 2):
            os.dup2(null, fd)
        for point in points:
            leftovers.take("mount", point)
            try:
                _unmount(point)
            except SandboxError as exc:
                status = 1
                print(f"sentinel: {exc} (sentinel-run sandbox gc removes it)", file=sys.stderr)
                continue
            leftovers.give_back("mount", point)
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child but its exit
        status = 1
    finally:
        os._exit(status)


def _lock_or_make(
    image: Path, size_mb: int, uid: int, gid: int
) -> tuple[image_lock.ImageLock, bool]:
    """The image's lock, the image made first if there is none; and whether it is new."""
    try:
        return image_lock.hold(image), False
    except FileNotFoundError:
        pass
    try:
        return _format(image, size_mb, uid, gid), True
    except FileExistsError:  # another launcher made it meanwhile: wait for its lock
        return image_lock.hold(image), False


def ensure_quota(workspace: Path, size_mb: int, uid: int, gid: int) -> bool:
    """Mount the workspace's quota file system (creating it on first use); idempotent.

    Everything happens under the image's lock (:mod:`sentinel.sandbox.image_lock`): a
    release or ``sandbox gc`` working on the same image meanwhile is waited for, and sees
    the lease this call takes before it mounts. A workspace that already holds files and
    has no image yet gets them copied into the new file system (the originals stay, hidden
    under the mount). A mount this call makes is released by :func:`release`, or when the
    process exits (signals the CLI turns into an exit included; ``sentinel-run sandbox gc``
    after a crash).

    Returns:
        Whether this call mounted it (False: it was mounted already).

    Raises:
        SandboxError: The tools are missing, the image cannot be made, locked or mounted,
            or something other than a regular file is at the image's name.
    """
    if workspace in _mounted_here and os.path.ismount(workspace):
        return False  # ours, and only this process releases it: no lock needed to know
    image = image_path(workspace)
    held, fresh = _lock_or_make(image, size_mb, uid, gid)
    with held:
        if os.path.ismount(workspace):  # mounted by another process meanwhile
            return False
        if fresh:
            _first_use(image, workspace)
        elif (size := _check_image(image).st_size) != size_mb << 20:
            raise SandboxError(
                f"{image} holds a {size >> 20} MiB quota, the policy asks for "
                f"{size_mb} MiB; remove the image (its files go with it) or keep the old size"
                + (" (an empty image: a launcher crashed while making it)" if not size else "")
            )
        leftovers.take("mount", workspace)  # before the mount: a crash in between leaves a lease
        _mount(image, workspace)
        _mounted_here.add(workspace)
    return True


def _first_use(image: Path, workspace: Path) -> None:
    """Empty the fresh file system and copy in what the workspace held, in one staging mount."""
    with tempfile.TemporaryDirectory(dir=workspace.parent) as staging:
        _mount(image, Path(staging))
        try:
            (Path(staging) / "lost+found").rmdir()  # fresh: empty, and ours
            if any(workspace.iterdir()):
                # -a copies links as links (never follows them) into a fresh file system
                _run(["cp", "-a", f"{workspace}/.", staging])
        finally:
            _unmount(Path(staging))


def _unmount(target: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"cannot unmount {target}: {os.strerror(err)}")


def image_of(point: Path) -> Path | None:
    """The workspace image mounted at ``point``, as the kernel names its loop device's file.

    None when ``point`` is not a mount of a loop device backed by a workspace image (or the
    image was deleted since it was bound).
    """
    target = str(point)
    source = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields, _, rest = line.partition(" - ")
            if rest and unescape(fields.split()[4]) == target:
                source = rest.split()[1]  # the last mount at the point is the visible one
    if source is None or not source.startswith("/dev/loop"):
        return None
    try:
        backing = Path(f"/sys/block/{source[5:]}/loop/backing_file").read_text().strip()
    except OSError:
        return None
    return Path(backing) if backing.endswith(QUOTA_SUFFIX) else None


def release_point(
    point: Path, *, wait: bool = True, unless: Callable[[Path], str | None] | None = None
) -> bool:
    """Unmount one quota file system under its image's lock, and forget its lease.

    Args:
        point: The mount point.
        wait: Wait for another holder of the image's lock (False: raise at once).
        unless: Asked under the lock (``sandbox gc``): a reason to leave the mount, or None.

    Returns:
        Whether it was unmounted (False: ``unless`` gave a reason, or it was gone already).

    Raises:
        ImageLockedError: ``wait=False`` and another process holds the image's lock.
        SandboxError: It could not be unmounted, or the image is not a regular file.
    """
    image = image_of(point)
    held = None
    if image is not None:
        with contextlib.suppress(FileNotFoundError):  # deleted meanwhile: nothing to lock
            held = image_lock.hold(image, wait=wait)
    try:
        if unless is not None and unless(point) is not None:
            return False
        if not os.path.ismount(point):  # another holder unmounted it while we waited
            return False
        _unmount(point)
        _mounted_here.discard(point)
        leftovers.give_back("mount", point)
        return True
    finally:
        if held is not None:
            held.release()


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

    Each under its image's lock (:func:`release_point`), waited for.

    Raises:
        SandboxError: A file system could not be unmounted (the others still are).
    """
    failures = []
    for point in mounts_below(path):
        try:
            release_point(point)
        except SandboxError as exc:
            failures.append(str(exc))
    if failures:
        raise SandboxError("; ".join(failures))


def _remove_image(image: Path) -> None:
    """Unlink the image under its lock: never while another process mounts or releases it."""
    try:
        held: image_lock.ImageLock | None = image_lock.hold(image)
    except FileNotFoundError:
        return
    except ImageLockedError:
        raise
    except SandboxError:  # a link or a non-file at the name: unlinking the name follows nothing
        held = None
    try:
        image.unlink(missing_ok=True)
    finally:
        if held is not None:
            held.release()


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
        _remove_image(image_path(workspace))
    except OSError as exc:
        raise SandboxError(f"cannot remove the workspace {workspace}: {exc}") from None
