"""Frames between coordinator and workers: what comes off the wire is untrusted."""

from __future__ import annotations

import socket
import struct

import pytest

from sentinel.agents.backends import Answer, Request
from sentinel.errors import HostLost
from sentinel.hosts import wire


def test_frames_round_trip() -> None:
    left, right = socket.socketpair()
    with left, right:
        request = Request("a-1", "need", "coffee?", "f00d", addressed=True, max_tokens=64)
        wire.send(left, {"op": "decide", "requests": [wire.request_to_wire(request)]}, "peer")
        got = wire.receive(right, "peer")
        assert [wire.request_from_wire(r) for r in got["requests"]] == [request]
        answer = Answer("synthesized", "rule-1", [{"action_type": "emote"}], 0.5)
        assert wire.answer_from_wire(wire.answer_to_wire(answer)) == answer


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (struct.pack(">I", wire.MAX_FRAME_BYTES + 1), "a frame of"),
        (struct.pack(">I", 3) + b"{x]", "not JSON"),
        (struct.pack(">I", 2) + b"[]", "not a JSON object"),
        (struct.pack(">I", 10) + b"{}", "connection closed"),
        (b"\x00", "connection closed"),
    ],
)
def test_bad_or_cut_frames_mean_the_peer_is_lost(raw: bytes, message: str) -> None:
    left, right = socket.socketpair()
    with right:
        left.sendall(raw)
        left.close()
        with pytest.raises(HostLost, match=f"host 2: .*{message}"):
            wire.receive(right, "host 2")
