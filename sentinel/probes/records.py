"""What the agent probe reports, decoded: the one reader of the kernel's record layout.

The layouts mirror ``struct probe_event`` and ``struct agent_totals`` in
``native/sentinel-probe/bpf/agent_probe.bpf.c`` (native byte order, no padding: every
field is naturally aligned). A record that is not exactly that size is refused, never
guessed at.
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import os
import platform
import signal
import socket
import struct
from dataclasses import dataclass
from typing import Any, Final

from sentinel.errors import InvalidInputError
from sentinel.sandbox.syscall_table import X86_64_TABLE

EVENT_HEADER: Final = struct.Struct("=QQIIIIqq")
"""ts_ns, cgroup_id, slot, pid, tid, kind, value, extra."""
EVENT_DATA_LEN: Final = 256
"""``PROBE_DATA_LEN`` in the BPF program: a path, a command name or a socket address."""
EVENT_SIZE: Final = EVENT_HEADER.size + EVENT_DATA_LEN
TOTALS: Final = struct.Struct("=8Q")
"""execs, exits, write_opens, writes, write_bytes, connects, refusals, dropped."""
OPEN_WRITE_FLAGS: Final = {os.O_WRONLY: "wronly", os.O_RDWR: "rdwr", os.O_CREAT: "creat"}
OPEN_WRITE_FLAGS[os.O_TRUNC] = "trunc"
OPEN_WRITE_FLAGS[os.O_APPEND] = "append"


class ProbeKind(enum.IntEnum):
    """``enum probe_kind`` in the BPF program."""

    EXEC = 1
    EXIT = 2
    OPEN_WRITE = 3
    CONNECT = 4
    REFUSED = 5


@dataclass(frozen=True)
class ProbeRecord:
    """One thing an agent's process did, seen by the kernel.

    Attributes:
        kind: What happened.
        ts_ns: ``CLOCK_BOOTTIME`` in nanoseconds.
        cgroup_id: The cgroup v2 id the task was in.
        slot: The agent slot the probe session gave that cgroup.
        pid: Thread-group id (the process), in the host's pid namespace.
        tid: Thread id.
        value: Exit status (exit), open flags (open), socket fd (connect), syscall number
            (refused).
        extra: dirfd (open), address length (connect), errno (refused).
        data: The raw bytes: a path, a command name or a socket address.
    """

    kind: ProbeKind
    ts_ns: int
    cgroup_id: int
    slot: int
    pid: int
    tid: int
    value: int
    extra: int
    data: bytes

    def text(self) -> str:
        """``data`` up to its first NUL, decoded (paths are bytes: undecodable ones escaped)."""
        return self.data.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")

    def detail(self) -> dict[str, Any]:
        """The record as a JSON-ready dict with its fields named and explained."""
        base: dict[str, Any] = {"kind": self.kind.name.lower(), "pid": self.pid}
        if self.kind is ProbeKind.EXEC:
            return {**base, "path": self.text()}
        if self.kind is ProbeKind.EXIT:
            return {**base, "comm": self.text(), **exit_status(self.value)}
        if self.kind is ProbeKind.OPEN_WRITE:
            path = self.text()
            return {**base, "path": path or None, "flags": open_flags(self.value)}
        if self.kind is ProbeKind.CONNECT:
            return {**base, **socket_address(self.data[: max(0, min(self.extra, EVENT_DATA_LEN))])}
        return {**base, "syscall": syscall_name(self.value), "errno": errno_name(self.extra)}


def decode_record(raw: bytes) -> ProbeRecord:
    """Decode one ring-buffer record.

    Raises:
        InvalidInputError: ``raw`` is not one record (wrong size or unknown kind).
    """
    if len(raw) != EVENT_SIZE:
        raise InvalidInputError(f"a probe record is {EVENT_SIZE} bytes, got {len(raw)}")
    ts_ns, cgroup_id, slot, pid, tid, kind, value, extra = EVENT_HEADER.unpack_from(raw)
    try:
        probe_kind = ProbeKind(kind)
    except ValueError:
        raise InvalidInputError(f"a probe record of unknown kind {kind}") from None
    data = bytes(raw[EVENT_HEADER.size :])
    return ProbeRecord(probe_kind, ts_ns, cgroup_id, slot, pid, tid, value, extra, data)


@dataclass(frozen=True)
class AgentTotals:
    """The kernel-side totals of one agent (every event counted, none sampled)."""

    execs: int = 0
    exits: int = 0
    write_opens: int = 0
    writes: int = 0
    write_bytes: int = 0
    connects: int = 0
    refusals: int = 0
    dropped: int = 0
    """Records the ring buffer had no room for (counted in the totals all the same)."""

    def __add__(self, other: AgentTotals) -> AgentTotals:
        """Field-wise sum (an agent's sandboxes over a run)."""
        return AgentTotals(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def __sub__(self, other: AgentTotals) -> AgentTotals:
        """Field-wise difference (what happened since ``other`` was read)."""
        return AgentTotals(*(a - b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        """The counters in layout order."""
        return (
            self.execs,
            self.exits,
            self.write_opens,
            self.writes,
            self.write_bytes,
            self.connects,
            self.refusals,
            self.dropped,
        )

    def to_dict(self) -> dict[str, int]:
        """The counters by name."""
        names = (
            "execs",
            "exits",
            "write_opens",
            "writes",
            "write_bytes",
            "connects",
            "refusals",
            "dropped",
        )
        return dict(zip(names, self.as_tuple(), strict=True))

    def any(self) -> bool:
        """Whether any counter is non-zero."""
        return any(self.as_tuple())


def decode_totals(raw: bytes) -> AgentTotals:
    """Decode one ``agent_counters`` value.

    Raises:
        InvalidInputError: ``raw`` is not one totals record.
    """
    if len(raw) != TOTALS.size:
        raise InvalidInputError(f"probe totals are {TOTALS.size} bytes, got {len(raw)}")
    return AgentTotals(*TOTALS.unpack(raw))


def exit_status(status: int) -> dict[str, Any]:
    """A wait status (``task->exit_code``) as ``{"exit_code": n}`` or ``{"signal": name}``."""
    if status & 0x7F == 0:
        return {"exit_code": (status >> 8) & 0xFF}
    number = status & 0x7F
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return {"signal": name, "core_dumped": bool(status & 0x80)}


def open_flags(flags: int) -> list[str]:
    """The write-related open flags set in ``flags``."""
    return [name for bit, name in OPEN_WRITE_FLAGS.items() if flags & bit]


def socket_address(raw: bytes) -> dict[str, Any]:
    """A ``struct sockaddr`` as family, address and port (what ``connect`` was asked)."""
    if len(raw) < 2:
        return {"family": None}
    family = int.from_bytes(raw[:2], "little")
    if family == socket.AF_INET and len(raw) >= 8:
        port = int.from_bytes(raw[2:4], "big")
        return {"family": "inet", "address": str(ipaddress.IPv4Address(raw[4:8])), "port": port}
    if family == socket.AF_INET6 and len(raw) >= 24:
        port = int.from_bytes(raw[2:4], "big")
        address = str(ipaddress.IPv6Address(raw[8:24]))
        return {"family": "inet6", "address": address, "port": port}
    if family == socket.AF_UNIX:
        path = raw[2:].split(b"\0", 1)[0] if raw[2:3] != b"\0" else b"@" + raw[3:].rstrip(b"\0")
        return {"family": "unix", "path": path.decode("utf-8", "backslashreplace")}
    return {"family": family}


def syscall_name(number: int) -> str:
    """The name of syscall ``number`` on x86_64 (its number elsewhere, or when unknown)."""
    if platform.machine() != "x86_64":
        return str(number)
    return X86_64_TABLE.get(number, str(number))


def errno_name(number: int) -> str:
    """``EPERM`` for 1 and so on (the number when unknown)."""
    return errno.errorcode.get(number, str(number))
