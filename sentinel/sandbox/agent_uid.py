"""Each sandbox's own uid, so the kernel's per-user limits are per agent.

The kernel counts some limits per user whatever the namespaces: inotify instances
(``fs.inotify.max_user_instances``, 128) and watches, pipe buffer pages
(``fs.pipe-user-pages-soft``), epoll watches, POSIX message-queue bytes (RLIMIT_MSGQUEUE),
processes (RLIMIT_NPROC), keys, user namespaces. Were every agent one uid, one agent
exhausting any of them would deny it to every other agent (and to host ``nobody``). A root
launcher therefore runs each sandbox as a uid of its own from a range reserved for
Sentinel:

- the range is :data:`AGENT_UID_BASE` .. ``+ AGENT_UID_COUNT``: above the subordinate ranges
  ``useradd`` hands out (100000 .. 600100000), in the block systemd leaves unused
  (0x70000000 .. 0x7FFDFFFF, between its container and foreign ranges), below 2^31;
- a uid that names a user or group, or lies in any ``/etc/subuid`` or ``/etc/subgid``
  range, is never used;
- a uid is leased with an exclusive ``flock`` on ``/run/sentinel/uids/<uid>`` for as long
  as the sandbox lives (the kernel releases it when the holder exits), so two live
  sandboxes never share one;
- an agent's first choice is a hash of its id (stable across runs), or the owner of its
  workspace when that is a free uid of the range (its files stay its own).

bwrap maps the uid to itself in the sandbox's user namespace; inside, ``id -u`` prints it.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import os
import pwd
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxUnavailable

AGENT_UID_BASE: Final = 1_900_000_000
"""First uid of Sentinel's range (see the module docstring for why here)."""
AGENT_UID_COUNT: Final = 65536
"""Size of the range: more agents than one host runs at once."""
LEASE_DIR: Final = Path("/run/sentinel/uids")
"""Root-only directory of lease files, one per uid in use (on tmpfs: gone at reboot)."""
SUBORDINATE_FILES: Final = (Path("/etc/subuid"), Path("/etc/subgid"))


def in_range(uid: int) -> bool:
    """Whether ``uid`` is one of Sentinel's agent uids."""
    return AGENT_UID_BASE <= uid < AGENT_UID_BASE + AGENT_UID_COUNT


def _subordinate_ranges() -> list[tuple[int, int]]:
    ranges = []
    for path in SUBORDINATE_FILES:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                    ranges.append((int(fields[1]), int(fields[1]) + int(fields[2])))
    return ranges


def _named(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
        except KeyError:
            continue
        return True
    return False


class UidLease:
    """A uid held for one sandbox until :meth:`release` (or the process's exit)."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd = fd

    def __del__(self) -> None:
        # A launch that failed half-way drops its lease without a teardown.
        self.release()

    def release(self) -> None:
        """Give the uid back and remove its lease file (idempotent).

        The file is unlinked while the lock is still held: a process that opened it before
        the unlink and locks it after sees that its fd is no longer the file at that name
        (see :func:`_lock`) and starts over.
        """
        if self._fd >= 0:
            (LEASE_DIR / str(self.uid)).unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def _lock(path: Path) -> int | None:
    """An fd holding the exclusive lock on the lease file ``path``; None if another holds it.

    After the lock is taken, the fd must still be the file at ``path``: a holder that
    released the uid unlinked its file, and a lock on an unlinked file guards nothing.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        held = os.fstat(fd)
        try:
            current = os.lstat(path)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)  # released and unlinked under us: take the name afresh


def lease(agent_id: str, preferred: int | None = None) -> UidLease:
    """Lease a free uid of the range for ``agent_id``.

    Raises:
        SandboxUnavailable: Every uid of the range is taken.
    """
    LEASE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = int.from_bytes(hashlib.sha256(agent_id.encode()).digest()[:8], "big")
    first = digest % AGENT_UID_COUNT
    if preferred is not None and in_range(preferred):
        first = preferred - AGENT_UID_BASE
    subordinate = _subordinate_ranges()
    for step in range(AGENT_UID_COUNT):
        uid = AGENT_UID_BASE + (first + step) % AGENT_UID_COUNT
        if any(start <= uid < end for start, end in subordinate) or _named(uid):
            continue
        fd = _lock(LEASE_DIR / str(uid))
        if fd is not None:
            return UidLease(uid, fd)
    raise SandboxUnavailable(
        "uid", f"all {AGENT_UID_COUNT} agent uids from {AGENT_UID_BASE} are in use"
    )


def remove_stale_leases() -> list[int]:
    """Remove the lease files no process holds (a crashed holder's); the uids removed."""
    removed = []
    for path in sorted(LEASE_DIR.iterdir()) if LEASE_DIR.is_dir() else []:
        if not path.name.isdigit() or path.is_symlink():
            continue
        fd = _lock(path)
        if fd is None:
            continue  # held: in use
        path.unlink(missing_ok=True)
        os.close(fd)
        removed.append(int(path.name))
    return removed
