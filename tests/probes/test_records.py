"""The probe record decoder against records encoded independently from the C layout."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.errors import InvalidInputError
from sentinel.probes.records import (
    EVENT_SIZE,
    AgentTotals,
    ProbeKind,
    decode_record,
    decode_totals,
    exit_status,
    socket_address,
)

U64 = st.integers(0, 2**64 - 1)
U32 = st.integers(0, 2**32 - 1)
S64 = st.integers(-(2**63), 2**63 - 1)


def encode(*fields: int, data: bytes = b"") -> bytes:
    """``struct probe_event`` written field by field as the C compiler lays it out."""
    ts, cgroup, slot, pid, tid, kind, value, extra = fields
    head = b"".join(
        [
            ts.to_bytes(8, "little"),
            cgroup.to_bytes(8, "little"),
            *(n.to_bytes(4, "little") for n in (slot, pid, tid, kind)),
            value.to_bytes(8, "little", signed=True),
            extra.to_bytes(8, "little", signed=True),
        ]
    )
    return head + data.ljust(256, b"\0")


@given(U64, U64, U32, U32, U32, st.sampled_from(list(ProbeKind)), S64, S64, st.binary(max_size=255))
def test_every_record_decodes_to_its_fields(
    ts: int, cgroup: int, slot: int, pid: int, tid: int, kind: ProbeKind, value: int,
    extra: int, data: bytes,
) -> None:  # fmt: skip
    record = decode_record(encode(ts, cgroup, slot, pid, tid, kind, value, extra, data=data))
    assert (record.ts_ns, record.cgroup_id, record.slot, record.pid, record.tid) == (
        ts, cgroup, slot, pid, tid,
    )  # fmt: skip
    assert (record.kind, record.value, record.extra) == (kind, value, extra)
    assert record.data[: len(data)] == data and len(record.data) == 256
    assert record.detail()["kind"] == kind.name.lower()


@pytest.mark.parametrize("size", [0, EVENT_SIZE - 1, EVENT_SIZE + 1])
def test_a_record_of_another_size_is_refused(size: int) -> None:
    with pytest.raises(InvalidInputError, match=f"got {size}"):
        decode_record(bytes(size))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown kind 9"):
        decode_record(encode(0, 0, 0, 0, 0, 9, 0, 0))


@given(st.lists(U64.map(lambda n: n >> 1), min_size=8, max_size=8))
def test_totals_decode_in_layout_order_and_add_up(counts: list[int]) -> None:
    totals = decode_totals(struct.pack("<8Q", *counts))
    assert list(totals.as_tuple()) == counts
    assert (totals + totals) - totals == totals
    assert totals.any() == any(counts)


def test_exit_statuses_read_as_wait_statuses() -> None:
    assert exit_status(4 << 8) == {"exit_code": 4}
    assert exit_status(9) == {"signal": "SIGKILL", "core_dumped": False}
    assert exit_status(31 | 0x80) == {"signal": "SIGSYS", "core_dumped": True}


def test_socket_addresses_of_each_family() -> None:
    v4 = struct.pack("<H", socket.AF_INET) + (8080).to_bytes(2, "big") + bytes([10, 0, 0, 1])
    assert socket_address(v4 + bytes(8)) == {
        "family": "inet", "address": "10.0.0.1", "port": 8080,
    }  # fmt: skip
    v6 = struct.pack("<H", socket.AF_INET6) + (443).to_bytes(2, "big") + bytes(4)
    v6 += bytes(15) + b"\x01" + bytes(4)
    assert socket_address(v6) == {"family": "inet6", "address": "::1", "port": 443}
    unix = struct.pack("<H", socket.AF_UNIX) + b"/run/x.sock\0"
    assert socket_address(unix) == {"family": "unix", "path": "/run/x.sock"}
    abstract = struct.pack("<H", socket.AF_UNIX) + b"\0name"
    assert socket_address(abstract) == {"family": "unix", "path": "@name"}
    assert socket_address(b"\x01") == {"family": None}
    assert AgentTotals().any() is False
