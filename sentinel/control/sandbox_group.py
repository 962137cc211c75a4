"""Reading and steering a running sandbox's cgroup, found from its process.

The platform plane finds a sandbox's groups from ``/proc/PID/cgroup`` of its outermost
process (every sandbox process joins its group before bwrap runs, see
:mod:`sentinel.sandbox.cgroup`), on cgroup v2 and on hybrid v1 hosts alike. CPU time and
io come from ``/proc/PID/stat`` and ``/proc/PID/io`` of the group's processes (a v1 host
does not join the sandbox to a cpuacct or blkio group); memory and pids from the group's
own files; pressure (PSI) from the group on v2 and from ``/proc/pressure`` otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
PROC: Final = Path("/proc")
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
"""``/proc/PID/stat`` counts cpu time in clock ticks (usually 100 a second)."""
CPU_PERIOD_US: Final = 100_000
"""The CFS period Sentinel's groups use (sentinel.sandbox.cgroup)."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _number(path: Path) -> float | None:
    text = _read(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def psi_some_avg10(text: str | None) -> float | None:
    """The ``some avg10`` share (percent) of a PSI file's text; None when absent."""
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            for field in line.split()[1:]:
                name, _, value = field.partition("=")
                if name == "avg10":
                    return float(value)
    return None


@dataclass(frozen=True)
class SandboxGroup:
    """The cgroup directories of one sandbox, by controller (``v2`` for a v2 group)."""

    dirs: dict[str, Path]

    @classmethod
    def of_pid(cls, pid: int) -> SandboxGroup | None:
        """The groups of process ``pid``; None when it is gone or in no group of its own.

        A sandbox's processes join their groups before bwrap runs, so a process whose pids
        group (the one :meth:`pids` lists, and the actuator signals) is a hierarchy's root
        is not in a sandbox any more. That is what a killed sandbox's outer process shows
        until it is reaped: on a hybrid host its v1 lines read ``/`` while its v2 line still
        names the identity group. Taken as its group, the root's ``cgroup.procs`` lists
        every process on the host: their cpu time and io were summed as the agent's (about
        1,200 ``/proc`` files read a quarter hour of the main job), and a kill or a v1
        freeze would have signalled them all.
        """
        text = _read(PROC / str(pid) / "cgroup")
        if text is None:
            return None
        dirs: dict[str, Path] = {}
        roots: set[str] = set()
        for line in text.splitlines():
            _, controllers, path = line.split(":", 2)
            relative = path.lstrip("/")
            names = controllers.split(",") if controllers else ["v2"]
            if not relative:
                roots.update(names)
            if not controllers:
                dirs["v2"] = CGROUP_ROOT / relative
                continue
            for controller in names:
                mount = CGROUP_ROOT / controller
                if not mount.is_dir():
                    mount = CGROUP_ROOT / controllers
                dirs[controller] = mount / relative
        group = cls(dirs)
        if ("v2" if group.v2 else "pids") in roots:
            return None
        return group

    @property
    def v2(self) -> bool:
        """Whether memory and pids are governed by a v2 group (no v1 controller for them)."""
        return "memory" not in self.dirs and "v2" in self.dirs

    def _dir(self, controller: str) -> Path:
        return self.dirs["v2"] if self.v2 else self.dirs.get(controller, Path("/nonexistent"))

    def pids(self) -> list[int]:
        """Processes in the group."""
        text = _read(self._dir("pids") / "cgroup.procs")
        return [int(p) for p in text.split()] if text else []

    def cpu_seconds(self) -> float:
        """CPU time of the group's processes (with their reaped children)."""
        total = 0
        for pid in self.pids():
            text = _read(PROC / str(pid) / "stat")
            if text is None:
                continue
            fields = text.rsplit(")", 1)[-1].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return total / CLOCK_TICKS

    def io_bytes(self) -> float:
        """Bytes read and written by the group's processes (``/proc/PID/io``)."""
        total = 0
        for pid in self.pids():
            text = _read(PROC / str(pid) / "io")
            for line in (text or "").splitlines():
                name, _, value = line.partition(":")
                if name in ("read_bytes", "write_bytes"):
                    total += int(value)
        return float(total)

    def memory_ratio(self) -> float | None:
        """Memory in use over the limit."""
        base = self._dir("memory")
        used = _number(base / ("memory.current" if self.v2 else "memory.usage_in_bytes"))
        limit = _number(base / ("memory.max" if self.v2 else "memory.limit_in_bytes"))
        return None if used is None or not limit else used / limit

    def pids_current(self) -> float | None:
        """Processes and threads counted by the pids controller."""
        return _number(self._dir("pids") / "pids.current")

    def cpu_fraction(self) -> float | None:
        """The cpu quota as a share of one cpu (None: unlimited)."""
        if self.v2:
            text = _read(self.dirs["v2"] / "cpu.max")
            if text is None or text.split()[0] == "max":
                return None
            limit, length = text.split()
            return float(limit) / float(length)
        quota = _number(self._dir("cpu") / "cpu.cfs_quota_us")
        period = _number(self._dir("cpu") / "cpu.cfs_period_us")
        return None if quota is None or quota < 0 or not period else quota / period

    def set_cpu_fraction(self, fraction: float | None) -> None:
        """Write the cpu quota (None: unlimited).

        Raises:
            OSError: The kernel refused it.
        """
        quota = "max" if fraction is None else str(int(fraction * CPU_PERIOD_US))
        if self.v2:
            (self.dirs["v2"] / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
        else:
            (self._dir("cpu") / "cpu.cfs_quota_us").write_text("-1" if fraction is None else quota)

    def pids_max(self) -> str | None:
        """The pids limit as written (``max`` or a number)."""
        text = _read(self._dir("pids") / "pids.max")
        return None if text is None else text.strip()

    def set_pids_max(self, value: str) -> None:
        """Write the pids limit.

        Raises:
            OSError: The kernel refused it.
        """
        (self._dir("pids") / "pids.max").write_text(value)

    def pressure(self, resource: str) -> float | None:
        """PSI ``some avg10`` of the group (v2), else of the host, else None."""
        if self.v2:
            found = psi_some_avg10(_read(self.dirs["v2"] / f"{resource}.pressure"))
            if found is not None:
                return found
        return psi_some_avg10(_read(PROC / "pressure" / resource))

    def freeze(self, frozen: bool) -> None:
        """Freeze (or thaw) every process: ``cgroup.freeze`` on v2, SIGSTOP/SIGCONT on v1.

        Raises:
            OSError: The kernel refused it.
        """
        freeze_file = self.dirs.get("v2", Path("/nonexistent")) / "cgroup.freeze"
        if self.v2 and freeze_file.exists():
            freeze_file.write_text("1" if frozen else "0")
            return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
