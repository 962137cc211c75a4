"""Nothing of Sentinel's outlives its process: leases, signals turned into exits, and gc.

Every host resource a root launcher makes (a workspace's quota mount, a cgroup, a named
network namespace, a scratch or run directory) is *leased*: a small file in
:data:`LEASE_DIR` names the resource and the process that holds it (pid and start time, so
a reused pid is not mistaken for the owner). The owner removes the resource and its lease
on every normal exit path; :func:`exit_on_signals` turns SIGTERM and SIGHUP into an exit so
those paths run. What a crash (SIGKILL, power loss of the process) left, :func:`collect`
removes (``sentinel-run sandbox gc``): the resources of leases whose owner is gone, plus
unleased Sentinel objects that nothing uses (empty ``sentinel-*`` cgroups, network
namespaces no process is in, loop devices of quota images that are not mounted, run
directories under :data:`RUNS_ROOT` with their quota mounts and workspace images, agent
uid lease files no process holds).

Nothing held by a live process is ever touched: other Sentinel processes may be running.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Final, Literal

from sentinel.errors import ImageLockedError, SandboxError
from sentinel.frozen_record import FrozenRecord

LEASE_DIR: Final = Path("/run/sentinel/leases")
"""Root's lease files (tmpfs: cleared at boot, like every resource they name)."""
RUNS_ROOT: Final = Path("/var/lib/sentinel/runs")
"""Where root's runs keep their workspaces (one directory each, leased while it runs)."""
NETNS_DIR: Final = Path("/run/netns")
"""Where ``ip netns`` keeps named network namespaces."""
QUOTA_SUFFIX: Final = ".quota.img"
"""The name ending of a workspace image (:mod:`sentinel.sandbox.disk_quota`)."""
SENTINEL_PREFIX: Final = "sentinel-"
"""Every cgroup and network namespace Sentinel names starts so."""
EXIT_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the CLI through its cleanup (SIGINT already raises KeyboardInterrupt)."""
COMMAND_TIMEOUT_S: Final = 10.0
RMDIR_ROUNDS: Final = 2000
RMDIR_PAUSE_S: Final = 0.001
"""Polling while killed processes leave a cgroup (2 s at most)."""
UNLEASED_MIN_AGE_S: Final = 60.0
"""An unleased group or namespace younger than this may be one a launcher of an earlier
version (which takes no leases) is setting up right now: gc leaves it."""
SIGNAL_EXIT_BASE: Final = 128
"""A process ended by signal N exits with 128 + N (as the shell reports it)."""

Kind = Literal["mount", "cgroup", "netns", "directory"]


_own_start: tuple[int, str | None] | None = None


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (``/proc/PID/stat`` field 22), None when it is gone.

    A pid and its start time name one process: a pid the kernel reused reads another time.
    """
    global _own_start  # noqa: PLW0603 - this process's start time never changes
    if pid == os.getpid():
        if _own_start is None or _own_start[0] != pid:  # the pid changes in a forked child
            _own_start = (pid, _read_start_time(pid))
        return _own_start[1]
    return _read_start_time(pid)


def _read_start_time(pid: int) -> str | None:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat_line.rpartition(")")[2].split()[19]  # field 22: starttime


def _lease_file(kind: Kind, path: str) -> Path:
    return LEASE_DIR / f"{kind}-{hashlib.sha256(path.encode()).hexdigest()[:24]}.json"


def take(kind: Kind, path: str | os.PathLike[str]) -> None:
    """Record that this process holds ``path`` (a no-op for an unprivileged launcher)."""
    if os.geteuid() != 0:
        return
    LEASE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    pid = os.getpid()
    record = {"kind": kind, "path": str(path), "pid": pid, "start": process_start(pid)}
    file = _lease_file(kind, str(path))
    # Whole or not at all: a gc reading at the same moment never sees a half-written lease.
    partial = file.with_name(f"{file.name}.{pid}.{os.urandom(6).hex()}.tmp")
    partial.write_text(json.dumps(record))
    partial.replace(file)


def give_back(kind: Kind, path: str | os.PathLike[str]) -> None:
    """The resource is gone: forget its lease."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(FileNotFoundError):
        _lease_file(kind, str(path)).unlink()


def make_leased_directory(path: Path, mode: int, dir_fd: int | None = None) -> None:
    """Lease ``path``, then make it (``path.name`` in ``dir_fd`` when given).

    The lease comes first, so a crash between the two leaves a lease for gc; when the
    directory cannot be made (a name someone else made first), the lease is given back:
    gc must never remove a directory that is not this process's.

    Raises:
        OSError: The directory could not be made.
    """
    take("directory", path)
    try:
        os.mkdir(path if dir_fd is None else path.name, mode, dir_fd=dir_fd)
    except BaseException:
        give_back("directory", path)
        raise


class Lease(FrozenRecord):
    """One lease file, read back."""

    file: Path
    kind: Kind
    path: str
    pid: int
    start: str | None

    @property
    def alive(self) -> bool:
        """Whether the owning process still runs (same pid, same start time)."""
        return process_start(self.pid) == self.start and self.start is not None


def read_leases() -> tuple[list[Lease], list[str]]:
    """Every lease on this host, and a line for each lease file that cannot be read."""
    found, unreadable = [], []
    for file in sorted(LEASE_DIR.glob("*.json")) if LEASE_DIR.is_dir() else []:
        try:
            data = json.loads(file.read_text())
            found.append(Lease(file, data["kind"], data["path"], int(data["pid"]), data["start"]))
        except FileNotFoundError:
            continue  # released by its holder between the listing and the read
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if _settled(file):  # a young one may be a writer's, mid-write (older versions)
                unreadable.append(f"lease file {file}: unreadable ({exc}), left in place")
    return found, unreadable


def leases() -> list[Lease]:
    """Every readable lease on this host (gc reports the unreadable ones as errors)."""
    return read_leases()[0]


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + N)`` once.

    The exception runs every ``finally`` (sandbox teardown) and then the exit handlers
    (mount release); a second signal during that cleanup is ignored rather than cutting it
    short.
    """
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise SystemExit(SIGNAL_EXIT_BASE + signum)

    previous = {sig: signal.signal(sig, handler) for sig in EXIT_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class GcReport:
    """What :func:`collect` removed, what it left (in use), and what failed."""

    def __init__(self) -> None:
        """An empty report (a plain class: this module is on ``sandbox exec``'s path)."""
        self.removed: list[str] = []
        self.kept: list[str] = []
        self.errors: list[str] = []

    def as_dict(self) -> dict[str, list[str]]:
        """The three lists, for ``--json``."""
        return {"removed": list(self.removed), "kept": list(self.kept), "errors": list(self.errors)}


def _lease_holder(kind: Kind, path: str) -> int | None:
    """The pid of the live process whose lease names ``path`` now (read afresh), if any."""
    try:
        data = json.loads(_lease_file(kind, path).read_text())
        lease = Lease(_lease_file(kind, path), kind, path, int(data["pid"]), data["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lease.pid if lease.alive else None


def _unmount_below(
    path: str, report: GcReport, unless: Callable[[Path], str | None] | None = None
) -> None:
    """Unmount what is at or below ``path``, each under its image's lock, never waiting.

    A held lock means a live launcher is mounting or releasing that image: the mount is
    kept. Under the lock a fresh lease on the mount point (a launcher that mounted it again
    after this gc read the leases) keeps it too, as does what ``unless`` says.
    """
    from sentinel.sandbox.disk_quota import mounts_below, release_point  # noqa: PLC0415 - no cycle

    def in_use(point: Path) -> str | None:
        holder = _lease_holder("mount", str(point))
        if holder is not None:
            return f"held by pid {holder}"
        return unless(point) if unless is not None else None

    for point in mounts_below(Path(path)):
        try:
            if release_point(point, wait=False, unless=in_use):
                report.removed.append(f"mount {point}")
            elif (why := in_use(point)) is not None:
                report.kept.append(f"mount {point} ({why})")
        except ImageLockedError:
            report.kept.append(f"mount {point} (its image is locked by a live process)")
        except SandboxError as exc:
            report.errors.append(str(exc))


def _remove_cgroup(directory: Path, report: GcReport, *, kill: bool) -> None:
    procs = directory / "cgroup.procs"
    try:
        pids = [int(p) for p in procs.read_text().split()]
    except FileNotFoundError:
        return
    except OSError as exc:
        report.errors.append(f"cgroup {directory}: {exc.strerror}")
        return
    if pids and not kill:
        report.kept.append(f"cgroup {directory} (in use by {len(pids)} processes)")
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    error = ""
    for _ in range(RMDIR_ROUNDS):
        try:
            directory.rmdir()
        except FileNotFoundError:
            return
        except OSError as exc:  # EBUSY while the killed processes are reaped
            error = exc.strerror or str(exc)
            time.sleep(RMDIR_PAUSE_S)
        else:
            report.removed.append(f"cgroup {directory}")
            return
    report.errors.append(f"cgroup {directory}: {error}")


def _netns_in_use(name: str) -> bool:
    try:
        target = (NETNS_DIR / name).stat()
    except OSError:
        return False
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                info = (entry / "ns" / "net").stat()
                if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
                    return True
    return False


def _command(argv: list[str], what: str, report: GcReport) -> None:
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT_S
    )
    if done.returncode == 0:
        report.removed.append(what)
    else:
        report.errors.append(f"{what}: {done.stderr.strip() or done.returncode}")


def _delete_netns(name: str, report: GcReport) -> None:
    _command(["ip", "netns", "delete", name], f"netns {name}", report)


def _loop_devices() -> dict[str, str]:
    """``/dev/loopN`` -> backing file, for every bound loop device."""
    found = {}
    for block in Path("/sys/block").glob("loop*"):
        with contextlib.suppress(OSError):
            backing = (block / "loop" / "backing_file").read_text().strip()
            found[f"/dev/{block.name}"] = backing
    return found


def quota_loop_devices(under: Path | None = None) -> dict[str, str]:
    """Loop devices whose backing file is a workspace image (optionally below ``under``)."""
    return {
        device: backing
        for device, backing in _loop_devices().items()
        if backing.removesuffix(" (deleted)").endswith(QUOTA_SUFFIX)
        and (under is None or backing.startswith(f"{under}/"))
    }


def _mounted_sources() -> set[str]:
    sources = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split(" - ", 1)
            if len(fields) == 2:
                sources.add(fields[1].split()[1])
    return sources


def _cgroup_roots() -> list[Path]:
    from sentinel.sandbox.launch import host_capabilities  # noqa: PLC0415 - detection is slow

    facts = host_capabilities().cgroups
    roots = {Path(c.path) for c in facts.controllers.values() if c.path is not None}
    roots |= {Path(m.path) for m in facts.mounts if m.version == "v2"}  # hybrid identity groups
    return sorted(roots)


def _collect_lease(lease: Lease, report: GcReport) -> bool:
    """Remove a dead lease's resource; whether it is gone (False: kept, keep the lease too)."""
    from sentinel.sandbox.disk_quota import mounts_below  # noqa: PLC0415 - no cycle

    if lease.kind == "mount":
        _unmount_below(lease.path, report)
        return not mounts_below(Path(lease.path))
    if lease.kind == "cgroup":
        _remove_cgroup(Path(lease.path), report, kill=True)
    elif lease.kind == "netns":
        if (NETNS_DIR / lease.path).exists():
            _delete_netns(lease.path, report)
    elif lease.kind == "directory":
        if not _real_directory(lease.path):
            # gone, or something else now has the name (a link to another run's directory
            # would have gc list and lock that run's images): not what was leased, left
            if os.path.lexists(lease.path):
                report.kept.append(f"directory {lease.path} (not a directory now: left)")
            return True
        _unmount_below(lease.path, report)
        if mounts_below(Path(lease.path)):  # kept (locked, leased again) or failed: said so
            return False
        with _images_locked(Path(lease.path), report) as locked:
            if not locked:
                return False
            shutil.rmtree(lease.path, ignore_errors=True)
        if os.path.lexists(lease.path):
            report.errors.append(f"directory {lease.path}: could not be removed")
            return False
        report.removed.append(f"directory {lease.path}")
    return True


def _real_directory(path: str) -> bool:
    """Whether ``path`` names a directory itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _forget(lease: Lease) -> None:
    """Unlink a dead lease's file, unless a live process has taken the same name since."""
    try:
        data = json.loads(lease.file.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        data = {}
    if data.get("pid") in (None, lease.pid) and data.get("start") == lease.start:
        lease.file.unlink(missing_ok=True)


def _settled(path: Path) -> bool:
    """Older than :data:`UNLEASED_MIN_AGE_S` (not one a live launcher is setting up now)."""
    try:
        return time.time() - path.lstat().st_mtime > UNLEASED_MIN_AGE_S
    except FileNotFoundError:
        return False


def _collect_unleased(leased: set[str], report: GcReport) -> None:
    for root in _cgroup_roots():  # unleased groups: removed only when empty
        for directory in sorted(root.glob(f"{SENTINEL_PREFIX}*")):
            if directory.is_dir() and str(directory) not in leased and _settled(directory):
                _remove_cgroup(directory, report, kill=False)
    for entry in sorted(NETNS_DIR.glob(f"{SENTINEL_PREFIX}*")) if NETNS_DIR.is_dir() else []:
        owner = re.match(r"sentinel-gw-(\d+)-", entry.name)
        if entry.name in leased or (owner and Path(f"/proc/{owner.group(1)}").exists()):
            continue
        if not _settled(entry):
            continue
        if _netns_in_use(entry.name):
            report.kept.append(f"netns {entry.name} (in use)")
        else:
            _delete_netns(entry.name, report)
    for device, backing in quota_loop_devices().items():
        if device not in _mounted_sources():
            _detach_loop(device, backing, report)


def _detach_loop(device: str, backing: str, report: GcReport) -> None:
    """``losetup -d`` an unmounted image's device, under the image's lock, never waiting.

    A launcher holds the lock from binding the device to mounting it: without the lock gc
    could detach a device in that gap.
    """
    from sentinel.sandbox.image_lock import hold  # noqa: PLC0415 - no cycle

    held = None
    if not backing.endswith(" (deleted)"):
        try:
            held = hold(Path(backing), wait=False)
        except FileNotFoundError:
            pass  # unlinked since: nobody can mount it again
        except ImageLockedError:
            report.kept.append(f"loop {device} ({backing}: its image is locked by a live process)")
            return
        except SandboxError as exc:
            report.errors.append(f"loop {device}: {exc}")
            return
    try:
        if device not in _mounted_sources():  # mounted since the listing: in use
            _command(["losetup", "-d", device], f"loop {device} ({backing})", report)
    finally:
        if held is not None:
            held.release()


def _held_paths() -> set[str]:
    """Paths leased by live processes, read now."""
    return {lease.path for lease in leases() if lease.alive}


def _inside_any(path: str, roots: set[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _quota_mounts_below(root: Path) -> list[str]:
    """Mount points below ``root`` whose source is a loop device of a workspace image."""
    from sentinel.sandbox.disk_quota import unescape  # noqa: PLC0415 - no cycle

    images = quota_loop_devices()
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields, _, rest = line.partition(" - ")
            point = unescape(fields.split()[4])
            source = rest.split()[1] if rest else ""
            if source in images and point.startswith(f"{root}/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _run_images(run: Path) -> list[Path]:
    """Workspace images in a run directory: ``run/*/.<name>.quota.img`` and ``run/*.quota.img``.

    Listed without following a link (``scandir`` entries, ``follow_symlinks=False``); the
    callers hand it only a real directory, never a link at the run's name.
    """
    found = []
    with contextlib.suppress(OSError), os.scandir(run) as top:
        for entry in top:
            if entry.name.endswith(QUOTA_SUFFIX):
                found.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError), os.scandir(entry.path) as inner:
                    found += [Path(e.path) for e in inner if e.name.endswith(QUOTA_SUFFIX)]
    return found


@contextlib.contextmanager
def _images_locked(run: Path, report: GcReport) -> Iterator[bool]:
    """Hold the lock of every image in ``run`` for the block; False if one is held elsewhere."""
    from sentinel.sandbox.image_lock import ImageLock, hold  # noqa: PLC0415

    held: list[ImageLock] = []
    try:
        for image in _run_images(run):
            try:
                held.append(hold(image, wait=False))
            except FileNotFoundError:
                continue
            except ImageLockedError:
                report.kept.append(f"directory {run} ({image} is locked by a live process)")
                yield False
                return
            except SandboxError:
                continue  # a link or non-file named like an image: rmtree unlinks, never follows
        yield True
    finally:
        for lock in held:
            lock.release()


def _collect_runs(report: GcReport) -> None:
    """Quota mounts and run directories under :data:`RUNS_ROOT` that no live lease holds.

    A run directory is leased before it is made and its workspaces' mounts are leased
    before they are mounted, so what no live lease covers is a crash's: unmounted, then the
    directory (workspace images included) removed. Leases are read once, after the mounts
    and run directories are listed (a run directory belongs to the one process that made
    it, so nothing listed is leased later), and a directory younger than
    :data:`UNLEASED_MIN_AGE_S` is left.
    """
    from sentinel.sandbox.disk_quota import mounts_below  # noqa: PLC0415 - no cycle

    if not RUNS_ROOT.is_dir():
        return
    points = _quota_mounts_below(RUNS_ROOT)
    runs = sorted(RUNS_ROOT.iterdir())
    # Read once, after listing: a run directory or mount is leased before it is made, so
    # whatever the listings hold has its lease in this read (one read, not one per mount:
    # with a thousand leases and hundreds of mounts that was minutes).
    held = _held_paths()

    def leased_now(point: Path) -> str | None:  # read again under the image's lock
        return "leased by a live process" if _inside_any(str(point), _held_paths()) else None

    for point in points:
        if _inside_any(point, held):
            continue
        _unmount_below(point, report, unless=leased_now)
    for run in runs:
        if not run.is_dir() or run.is_symlink() or not _settled(run):
            continue
        if _inside_any(str(run), held) or any(path.startswith(f"{run}/") for path in held):
            continue
        _unmount_below(str(run), report, unless=leased_now)
        if mounts_below(run):
            report.errors.append(f"directory {run}: still has mounts, left in place")
            continue
        with _images_locked(run, report) as locked:
            if not locked:
                continue
            shutil.rmtree(run, ignore_errors=True)
        if run.exists():
            report.errors.append(f"directory {run}: could not be removed")
        else:
            report.removed.append(f"directory {run}")


def _collect_uid_leases(report: GcReport) -> None:
    from sentinel.sandbox.agent_uid import remove_stale_leases  # noqa: PLC0415 - no cycle

    for uid in remove_stale_leases():
        report.removed.append(f"uid lease {uid}")


def collect() -> GcReport:
    """Remove what crashed Sentinel processes left on this host (root only).

    Raises:
        SandboxError: Not root.
    """
    if os.geteuid() != 0:
        raise SandboxError("sandbox gc removes mounts, cgroups and namespaces: run it as root")
    report = GcReport()
    leased: set[str] = set()
    found, unreadable = read_leases()
    report.errors.extend(unreadable)
    for lease in found:
        if lease.alive:
            leased.add(lease.path)
            report.kept.append(f"{lease.kind} {lease.path} (held by pid {lease.pid})")
            continue
        if _collect_lease(lease, report):
            _forget(lease)
    _collect_runs(report)
    _collect_unleased(leased, report)
    _collect_uid_leases(report)
    return report
