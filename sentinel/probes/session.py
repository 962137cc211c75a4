"""A probe session: the loaded agent probe, the cgroups it watches and the agents they are.

Each agent gets a *slot* (a small number, stable for the session); every sandbox group of
that agent is watched under its slot, so the kernel's totals add up per agent across the
sandboxes it had. A group is watched from the moment it is created, before any process
joins it (:func:`sentinel.sandbox.cgroup.observe_groups`), and unwatched when it is removed:
cgroup ids are inode numbers, which the kernel reuses.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Final

from sentinel.errors import InvalidInputError, ProbeUnavailable
from sentinel.probes.records import AgentTotals, ProbeRecord, decode_record, decode_totals
from sentinel.sandbox import cgroup, leftovers

DEFAULT_CAPACITY: Final = 65_536
"""Records held between two drains before new ones are counted as lost (about 20 MiB)."""
FIX: Final = "run as root on Linux 5.8+ with BTF (/sys/kernel/btf/vmlinux); see `doctor`"
BTF_PATH: Final = Path("/sys/kernel/btf/vmlinux")
"""The running kernel's BTF (``CONFIG_DEBUG_INFO_BTF``): what CO-RE relocates the probe against."""


def cgroup_id(directory: Path) -> int:
    """A cgroup v2 directory's id (the kernel's cgroup id is its kernfs inode number)."""
    return directory.stat().st_ino


def agent_of_group(name: str) -> str:
    """The agent id in a group name ``sentinel-<agent>-<8 hex>`` (the name when unlike that)."""
    stem = name.removeprefix(leftovers.SENTINEL_PREFIX)
    agent, _, suffix = stem.rpartition("-")
    return agent if agent and len(suffix) == 8 else stem


def leased_groups(owner_pid: int | None = None) -> dict[Path, str]:
    """Sentinel's live cgroup v2 groups on this host (``owner_pid``'s only, if given)."""
    found: dict[Path, str] = {}
    for lease in leftovers.leases():
        if lease.kind != "cgroup" or (owner_pid is not None and lease.pid != owner_pid):
            continue
        directory = Path(lease.path)
        if (directory / "cgroup.controllers").exists():  # only v2 groups have this file
            found[directory] = agent_of_group(directory.name)
    return found


class ProbeSession:
    """The agent probe loaded into the kernel, watching Sentinel's sandboxes.

    Args:
        capacity: Records held between drains.
        follow_sandboxes: Watch every sandbox group this process creates from now on.

    Raises:
        ProbeUnavailable: The kernel would not load or attach the programs.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, follow_sandboxes: bool = True) -> None:
        from sentinel import _native  # noqa: PLC0415 - the probe is optional at import time

        agent_probe = getattr(_native, "AgentProbe", None)
        if agent_probe is None:
            raise ProbeUnavailable(
                "the native module sentinel._native was built without the agent probe",
                "rebuild the package (pip install -e .) with clang, libelf and zlib present",
            )
        if os.geteuid() != 0:
            raise ProbeUnavailable("loading BPF programs needs root (CAP_BPF and CAP_PERFMON)", FIX)
        if not BTF_PATH.exists():
            raise ProbeUnavailable(
                f"the kernel has no BTF ({BTF_PATH}): the probe cannot be relocated (CO-RE)",
                "run a kernel built with CONFIG_DEBUG_INFO_BTF=y",
            )
        try:
            self._probe: _native.AgentProbe = agent_probe(capacity)
        except OSError as exc:
            raise ProbeUnavailable(str(exc), FIX) from None
        self._lock = threading.Lock()
        self._slots: dict[str, int] = {}
        self._agents: dict[int, str] = {}
        self._watched: dict[Path, int] = {}
        self._owners: dict[Path, str] = {}
        """The agent of each watched group."""
        self.lost = 0
        """Records dropped because nobody drained the queue in time (never silently)."""
        self.unwatchable: list[str] = []
        """Groups the session could not watch, with why (their agents went unobserved)."""
        self._stop_following = cgroup.observe_groups(self._on_group) if follow_sandboxes else None

    @property
    def programs(self) -> list[str]:
        """The attached BPF programs."""
        return self._probe.programs()

    def slot(self, agent_id: str) -> int:
        """The agent's slot, given on first use."""
        with self._lock:
            if agent_id not in self._slots:
                number = len(self._slots) + 1
                self._slots[agent_id] = number
                self._agents[number] = agent_id
            return self._slots[agent_id]

    def agent(self, slot: int) -> str:
        """The agent of ``slot``.

        Raises:
            InvalidInputError: No agent has that slot.
        """
        try:
            return self._agents[slot]
        except KeyError:
            raise InvalidInputError(f"no agent has probe slot {slot}") from None

    def watch(self, agent_id: str, directory: Path) -> None:
        """Report the processes of cgroup v2 group ``directory`` as ``agent_id``'s.

        Raises:
            OSError: The group is gone or the kernel map is full.
        """
        identifier = cgroup_id(directory)
        self._probe.watch(identifier, self.slot(agent_id))
        with self._lock:
            self._watched[directory] = identifier
            self._owners[directory] = agent_id

    def unwatch(self, directory: Path) -> None:
        """Stop reporting ``directory`` (a no-op when it was not watched)."""
        with self._lock:
            identifier = self._watched.pop(directory, None)
            self._owners.pop(directory, None)
        if identifier is not None:
            self._probe.unwatch(identifier)

    def watched_agents(self) -> set[str]:
        """Agents with at least one group watched now (a live sandbox the kernel reports)."""
        with self._lock:
            return set(self._owners.values())

    def watch_leased(self, owner_pid: int | None = None) -> int:
        """Watch every live Sentinel group on the host (``owner_pid``'s only, if given).

        Returns:
            How many groups were newly watched.
        """
        added = 0
        for directory, agent_id in leased_groups(owner_pid).items():
            if directory in self._watched:
                continue
            with contextlib.suppress(FileNotFoundError):  # removed since the lease was read
                self.watch(agent_id, directory)
                added += 1
        return added

    def _on_group(self, agent_id: str, directory: Path, created: bool) -> None:
        if not created:
            self.unwatch(directory)
            return
        try:
            self.watch(agent_id, directory)
        except OSError as exc:  # never fail a sandbox for its observer: report the gap
            self.unwatchable.append(f"{directory}: {exc}")

    def poll(self) -> list[ProbeRecord]:
        """The records that arrived since the last poll, oldest first."""
        raw, lost = self._probe.drain()
        self.lost += lost
        return [decode_record(record) for record in raw]

    def totals(self) -> dict[str, AgentTotals]:
        """Each agent's kernel-side totals so far (exact: counted in the kernel)."""
        found: dict[str, AgentTotals] = {}
        for agent_id, number in list(self._slots.items()):
            raw = self._probe.totals(number)
            if raw is not None:
                found[agent_id] = decode_totals(raw)
        return found

    def set_attached(self, on: bool) -> None:
        """Attach or detach the programs; the watched groups, slots and totals stay.

        While detached the kernel runs none of the programs: the agents' activity in that
        time is neither recorded nor counted. Only for measuring what the probes cost
        (:mod:`sentinel.probes.overhead`).

        Raises:
            ProbeUnavailable: The probe's thread stopped, or the kernel refused to attach a
                program again (they all stay detached).
        """
        if not self.running():
            raise ProbeUnavailable(
                "the probe session is closed (its thread has stopped)", "open a new ProbeSession"
            )
        try:
            self._probe.set_attached(on)
        except OSError as exc:
            raise ProbeUnavailable(str(exc), FIX) from None

    @property
    def attached(self) -> bool:
        """Whether the programs are attached now."""
        return self._probe.attached()

    def running(self) -> bool:
        """Whether the probe still reads the kernel's records (its polling thread runs)."""
        return self._probe.running()

    def close(self) -> None:
        """Stop following sandboxes and detach the programs (idempotent)."""
        if self._stop_following is not None:
            self._stop_following()
            self._stop_following = None
        self._probe.close()

    def __enter__(self) -> ProbeSession:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the session."""
        self.close()
