"""A per-agent cgroup: memory, pids and cpu limits, statistics, and kill-all at teardown.

Works on cgroup v2 (controllers delegated to Sentinel's cgroup) and on hybrid hosts whose
v1 hierarchies carry the controllers, as detected by :mod:`sentinel.sandbox.capabilities`.
A process joins by writing its pid to ``cgroup.procs`` of each hierarchy before it
executes bwrap, so the whole sandbox, and everything it forks, is inside from the start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError, SandboxUnavailable
from sentinel.frozen_record import FrozenRecord
from sentinel.sandbox import leftovers
from sentinel.sandbox.launch_facts import CgroupView
from sentinel.sandbox.policy_terms import ResourcesView

CPU_PERIOD_US: Final = 100_000
"""The CFS period; the quota is ``cpu_percent`` percent of it."""
KILL_ROUNDS: Final = 4000
KILL_PAUSE_S: Final = 0.0005
"""Polling step while the last processes of a group exit (2 s at most in all)."""


class CgroupStats(FrozenRecord):
    """What the kernel counted for the group."""

    oom_kills: int
    pids_limit_hits: int
    memory_peak_bytes: int | None
    cpu_throttled_s: float = 0.0
    """Time the group spent throttled at its cpu quota."""


def _read_counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


class AgentCgroup:
    """The cgroup (one directory per hierarchy) that confines one sandbox.

    Args:
        name: A unique name, such as ``sentinel-AGENT-07-1a2b3c4d``.
        facts: Detected cgroup layout (where each controller is usable).
        resources: The limits.

    Raises:
        SandboxUnavailable: A required controller is not usable on this host.
    """

    def __init__(
        self,
        name: str,
        facts: CgroupView,
        resources: ResourcesView,
        agent_id: str | None = None,
    ) -> None:
        self.name = name
        self.agent_id = agent_id
        self.resources = resources
        self.dirs: dict[str, Path] = {}
        for controller in ("memory", "pids", "cpu"):
            found = facts.controllers.get(controller)
            if found is None or not found.usable or found.path is None:
                reason = found.reason if found is not None else "absent"
                raise SandboxUnavailable(
                    "cgroups", f"the {controller} controller is not usable: {reason}"
                )
            self.dirs[controller] = Path(found.path) / name
        self.v2 = all(facts.controllers[c].hierarchy == "v2" for c in ("memory", "pids", "cpu"))
        # On a hybrid host the limits live in v1 hierarchies, where the kernel's probes cannot
        # tell agents apart (their cgroup id is the v2 one). A controller-less v2 group named
        # like the others gives each sandbox its own v2 id; made on a best-effort basis.
        self.identity: Path | None = None if self.v2 else _identity_parent(facts, name)

    @classmethod
    def unique(cls, agent_id: str, facts: CgroupView, resources: ResourcesView) -> AgentCgroup:
        """A group with a fresh unique name for this agent."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in agent_id)[:40]
        return cls(f"sentinel-{safe}-{os.urandom(4).hex()}", facts, resources, agent_id)

    def create(self) -> None:
        """Create the directories and write the limits.

        Raises:
            SandboxError: The kernel refused a directory or a limit.
        """
        memory = self.resources.memory_mb * 1024 * 1024
        quota = self.resources.cpu_percent * CPU_PERIOD_US // 100
        try:
            for directory in dict.fromkeys(self.dirs.values()):
                leftovers.take("cgroup", directory)  # a crash now leaves a lease gc follows
                directory.mkdir()
            if self.v2:
                base = self.dirs["memory"]
                (base / "memory.max").write_text(str(memory))
                with contextlib.suppress(FileNotFoundError):
                    (base / "memory.swap.max").write_text("0")
                (base / "pids.max").write_text(str(self.resources.pids))
                (base / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
            else:
                (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory))
                with contextlib.suppress(FileNotFoundError, OSError):
                    (self.dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(str(memory))
                (self.dirs["pids"] / "pids.max").write_text(str(self.resources.pids))
                (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
            self._create_identity()
            _announce(self, created=True)
        except OSError as exc:
            message = f"cgroup {self.name}: {exc.strerror} at {exc.filename}"
            try:
                self.remove()
            except SandboxError as cleanup:
                message += f" (and cleaning up: {cleanup})"
            raise SandboxError(message) from None

    def _create_identity(self) -> None:
        if self.identity is None:
            return
        leftovers.take("cgroup", self.identity)
        try:
            self.identity.mkdir()
        except OSError:  # a read-only or delegated v2 tree: the probes will not see this one
            leftovers.give_back("cgroup", self.identity)
            self.identity = None

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join."""
        directories = [*dict.fromkeys(self.dirs.values())]
        if self.identity is not None:
            directories.append(self.identity)
        return [str(directory / "cgroup.procs") for directory in directories]

    def v2_directory(self) -> Path | None:
        """The group's cgroup v2 directory (whose inode number is its cgroup id), if any."""
        return self.dirs["memory"] if self.v2 else self.identity

    def pids(self) -> list[int]:
        """Processes currently in the group (none once the group is gone).

        Raises:
            SandboxError: The group exists but cannot be read: it is never taken as empty.
        """
        try:
            text = (self.dirs["pids"] / "cgroup.procs").read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SandboxError(f"cgroup {self.name}: cannot list its processes: {exc}") from None
        return [int(line) for line in text.split()]

    def stats(self) -> CgroupStats:
        """OOM kills, pid-limit hits and peak memory so far."""
        if self.v2:
            base = self.dirs["memory"]
            peak_file = base / "memory.peak"
            return CgroupStats(
                oom_kills=_read_counter(base / "memory.events", "oom_kill"),
                pids_limit_hits=_read_counter(base / "pids.events", "max"),
                memory_peak_bytes=int(peak_file.read_text()) if peak_file.exists() else None,
                cpu_throttled_s=_read_counter(base / "cpu.stat", "throttled_usec") / 1e6,
            )
        memory = self.dirs["memory"]
        try:
            peak: int | None = int((memory / "memory.max_usage_in_bytes").read_text())
        except (OSError, ValueError):
            peak = None
        return CgroupStats(
            oom_kills=_read_counter(memory / "memory.oom_control", "oom_kill"),
            pids_limit_hits=_read_counter(self.dirs["pids"] / "pids.events", "max"),
            memory_peak_bytes=peak,
            cpu_throttled_s=_read_counter(self.dirs["cpu"] / "cpu.stat", "throttled_time") / 1e9,
        )

    def kill_all(self) -> None:
        """SIGKILL every process in the group until it is empty."""
        kill_file = self.dirs["pids"] / "cgroup.kill"
        if self.v2 and kill_file.exists():  # cgroup.kill: Linux 5.14 and later
            with contextlib.suppress(FileNotFoundError):  # the group went meanwhile
                kill_file.write_text("1")
        for _ in range(KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(KILL_PAUSE_S)
        raise SandboxError(f"cgroup {self.name}: processes survive SIGKILL: {self.pids()}")

    def remove(self) -> None:
        """Kill what is left and remove the directories (idempotent).

        Raises:
            SandboxError: Processes survived or a directory stayed (after trying them all);
                ``sentinel-run sandbox gc`` removes what is left once it is empty.
        """
        problems = []
        if any(directory.exists() for directory in self.dirs.values()):
            try:
                self.kill_all()
            except SandboxError as exc:
                problems.append(str(exc))
        directories = [*dict.fromkeys(self.dirs.values())]
        if self.identity is not None:
            directories.append(self.identity)
        for directory in directories:
            error: OSError | None = None
            for _ in range(KILL_ROUNDS):
                try:
                    directory.rmdir()
                    error = None
                    break
                except FileNotFoundError:
                    error = None
                    break
                except OSError as exc:  # EBUSY while the last process is being reaped
                    error = exc
                    time.sleep(KILL_PAUSE_S)
            if error is not None:
                problems.append(f"cannot remove {directory}: {error.strerror}")
            else:
                leftovers.give_back("cgroup", directory)
        _announce(self, created=False)
        if problems:
            raise SandboxError(f"cgroup {self.name}: {'; '.join(problems)}")


GroupObserver = Callable[[str, Path, bool], None]
"""Called as ``observer(agent_id, v2_directory, created)``."""
_observers: list[GroupObserver] = []


def observe_groups(observer: GroupObserver) -> Callable[[], None]:
    """Call ``observer`` when agent groups are created and removed; return how to stop.

    A group is announced after it is made and before any process joins it. The kernel
    probes use this to watch a sandbox from its first instruction: a group that lives for
    one command would be missed by any later scan.
    """
    _observers.append(observer)

    def stop() -> None:
        with contextlib.suppress(ValueError):
            _observers.remove(observer)

    return stop


def _announce(group: AgentCgroup, *, created: bool) -> None:
    directory = group.v2_directory()
    if directory is None or group.agent_id is None:
        return
    for observer in _observers:
        observer(group.agent_id, directory, created)


def _identity_parent(facts: CgroupView, name: str) -> Path | None:
    """Where a hybrid host's controller-less v2 group for ``name`` goes (None without v2)."""
    if facts.v2_mount is None:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    # The v2 line is "0::<path>" (cgroups(7)); v1 lines name their controllers.
    own = next((line[3:] for line in lines if line.startswith("0::")), "/")
    return Path(facts.v2_mount) / own.lstrip("/") / name
