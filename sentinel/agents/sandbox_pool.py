"""A bounded pool of warm sandboxes: only agents doing tool work hold one.

An agent on duty gets a sandbox on its first command (not when it comes on duty), leased
for the command and kept warm after it. At most ``capacity`` sandboxes live at once (each
holds a supervisor, a cgroup, an agent uid and a loop-mounted quota file system): when an
agent without one needs one and the pool is full, the sandbox idle the longest is closed
to make room.

Closing never hands anything of one agent to another. Every agent has its own workspace
directory (``<run dir>/ws/<agent id>``): a closed sandbox unmounts the quota file system,
whose image keeps the files (:mod:`sentinel.sandbox.disk_quota`), and the agent's next
command builds a new sandbox over the same workspace, where its files and commits are
waiting. What is recycled is the slot (the mount, the cgroup, the uid), never a
workspace: a sandbox is always built for one agent and its workspace, through the
sandbox's public constructor.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sentinel.errors import InvalidInputError, SandboxError
from sentinel.sandbox.agent_uid import UidLease, in_range, lease
from sentinel.sandbox.warm import Sandbox

DEFAULT_CAPACITY: Final = 64
"""Ours: live sandboxes at once. The default shift has 26 agents on duty (all fit); a
1,000-persona run has ~430 on duty, and 430 loop-mounted quota file systems, cgroups and
supervisors are more than a 2-core host should hold (each supervisor is a Python process
of ~10 MB)."""
LEASE_WAIT_S: Final = 60.0
"""How long a lease waits for a sandbox to fall idle when every one is in use (threads)."""


@dataclass
class PoolStats:
    """What the pool did (for the run's counters)."""

    built: int = 0
    """Sandboxes built (an agent's first command, or its first after an eviction)."""
    evicted: int = 0
    """Idle sandboxes closed to make room for another agent's."""
    peak: int = 0
    """The most sandboxes alive at once."""
    agents: set[str] = field(default_factory=set)
    """Agents that held a sandbox at some point."""


class SandboxPool:
    """At most ``capacity`` live sandboxes, one per agent, least recently used closed first.

    Args:
        build: Makes the sandbox of an agent (over that agent's own workspace).
        capacity: The most sandboxes alive at once (at least 1).
        closing: Called with the agent id and its sandbox before the pool closes it
            (eviction); it closes the sandbox itself (the caller decides how the
            workspace is kept).

    Raises:
        InvalidInputError: ``capacity`` is below 1.
    """

    def __init__(
        self,
        build: Callable[[str], Sandbox],
        capacity: int = DEFAULT_CAPACITY,
        closing: Callable[[str, Sandbox], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise InvalidInputError(
                f"a sandbox pool needs a capacity of at least 1, got {capacity}"
            )
        self.capacity = capacity
        self.stats = PoolStats()
        self._build = build
        self._closing = closing or (lambda _agent, sandbox: sandbox.close())
        self._idle: OrderedDict[str, Sandbox] = OrderedDict()
        """Live sandboxes not leased now, least recently used first."""
        self._busy: dict[str, Sandbox | None] = {}
        """Leased sandboxes (None: being built; it counts as live already)."""
        self._changed = threading.Condition()

    def __len__(self) -> int:
        """Live sandboxes (idle and leased)."""
        return len(self._idle) + len(self._busy)

    def holds(self, agent_id: str) -> bool:
        """Whether the agent has a live sandbox now."""
        return agent_id in self._idle or agent_id in self._busy

    @contextlib.contextmanager
    def lease(self, agent_id: str) -> Iterator[Sandbox]:
        """The agent's sandbox for the block (built, after an eviction if full, on first use).

        Raises:
            SandboxError: Every sandbox stayed leased for :data:`LEASE_WAIT_S`, or the
                sandbox could not be built (``SandboxUnavailable`` when a required layer
                is missing on this host).
        """
        sandbox = self._take(agent_id)
        try:
            yield sandbox
        finally:
            with self._changed:
                self._busy.pop(agent_id, None)
                self._idle[agent_id] = sandbox
                self._changed.notify_all()

    def _take(self, agent_id: str) -> Sandbox:
        deadline = time.monotonic() + LEASE_WAIT_S
        with self._changed:
            while agent_id in self._busy:  # the same agent from another thread: wait its turn
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise SandboxError(f"the sandbox of {agent_id} stayed busy")
            sandbox = self._idle.pop(agent_id, None)
            if sandbox is not None:
                self._busy[agent_id] = sandbox
                return sandbox
            while len(self) >= self.capacity and not self._idle:
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise SandboxError(
                        f"all {self.capacity} sandboxes of the pool stayed busy for "
                        f"{LEASE_WAIT_S:.0f} s; {agent_id} got none"
                    )
            victim: tuple[str, Sandbox] | None = None
            if len(self) >= self.capacity:
                victim = self._idle.popitem(last=False)
                self.stats.evicted += 1
            self._busy[agent_id] = None
        try:
            if victim is not None:
                self._closing(*victim)
            sandbox = self._build(agent_id)
        except BaseException:
            with self._changed:
                self._busy.pop(agent_id, None)
                self._changed.notify_all()
            raise
        with self._changed:
            self._busy[agent_id] = sandbox
            self.stats.built += 1
            self.stats.agents.add(agent_id)
            self.stats.peak = max(self.stats.peak, len(self))
        return sandbox

    def release(self, agent_id: str) -> Sandbox | None:
        """Take the agent's idle sandbox out of the pool (the caller closes it); None if none.

        Raises:
            SandboxError: The agent's sandbox is leased right now.
        """
        with self._changed:
            if agent_id in self._busy:
                raise SandboxError(f"the sandbox of {agent_id} is in use; it cannot be released")
            sandbox = self._idle.pop(agent_id, None)
            self._changed.notify_all()
            return sandbox

    def peek(self, agent_id: str) -> Sandbox | None:
        """The agent's live sandbox without leasing it (to read its state); None if none."""
        with self._changed:
            return self._idle.get(agent_id) or self._busy.get(agent_id)

    def agents(self) -> list[str]:
        """Agents holding a live sandbox now."""
        with self._changed:
            return [*self._idle, *self._busy]


class KeptUids:
    """Evicted agents keep their uid, so their files stay theirs when their sandbox returns.

    A sandbox runs as a uid of its own (:mod:`sentinel.sandbox.agent_uid`), and the files in
    the agent's workspace image belong to it. A rebuilt sandbox prefers the owner of its
    workspace directory, so on eviction the (unmounted, root-made) workspace directory is
    given to that uid, and the uid stays leased to the agent until its sandbox is built
    again: no other sandbox takes it in between. Without root there are no agent uids
    (every sandbox runs as the caller) and nothing to keep.
    """

    def __init__(self) -> None:
        self._held: dict[str, UidLease] = {}
        self.changed = 0
        """Rebuilt sandboxes that came back with another uid than before (should stay 0)."""
        self._uids: dict[str, int] = {}

    def evicted(self, agent_id: str, sandbox: Sandbox, workspace: Path) -> None:
        """Close the agent's sandbox (its files stay in the image) and keep its uid."""
        uid = sandbox.uid
        sandbox.close()  # unmounts the quota file system: the image keeps the files
        if os.geteuid() != 0 or not in_range(uid):
            return
        self._uids[agent_id] = uid
        os.chown(workspace, uid, uid, follow_symlinks=False)  # the rebuilt sandbox's choice
        held = lease(agent_id, uid)
        if held.uid == uid:
            self._held[agent_id] = held
        else:
            held.release()  # taken by another sandbox meanwhile: the rebuild will say so

    def building(self, agent_id: str) -> None:
        """The agent's sandbox is about to be built: give its uid back for it to lease."""
        held = self._held.pop(agent_id, None)
        if held is not None:
            held.release()

    def built(self, agent_id: str, sandbox: Sandbox) -> None:
        """Count a rebuilt sandbox that did not get its old uid back."""
        before = self._uids.pop(agent_id, None)
        if before is not None and sandbox.uid != before:
            self.changed += 1

    def forget(self, agent_id: str) -> None:
        """The agent went off duty: its uid is free again."""
        self.building(agent_id)
        self._uids.pop(agent_id, None)
