"""Frames between the coordinator and its worker hosts: length-prefixed JSON objects.

Each frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON (one object).
Both ends treat what they read as untrusted: a frame over :data:`MAX_FRAME_BYTES`, bytes
that are not a JSON object, or a closed connection raise :class:`HostLost` naming the peer.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import asdict
from typing import Any, Final

from sentinel.agents.backends import Answer, AttackOutcome, Request, ToolOutcome
from sentinel.errors import HostLost

MAX_FRAME_BYTES: Final = 64 * 1024 * 1024
"""Ours: a tick's requests for hundreds of agents are a few MiB at most."""
_HEAD: Final = struct.Struct(">I")


def _read_exactly(sock: socket.socket, size: int, peer: str) -> bytes:
    chunks = []
    left = size
    while left:
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except OSError as exc:  # reset, timeout
            raise HostLost(f"{peer}: {exc}") from None
        if not chunk:
            raise HostLost(f"{peer}: connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(sock: socket.socket, message: dict[str, Any], peer: str) -> None:
    """Send one frame.

    Raises:
        HostLost: The connection is gone.
    """
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        sock.sendall(_HEAD.pack(len(body)) + body)
    except OSError as exc:
        raise HostLost(f"{peer}: {exc}") from None


def receive(sock: socket.socket, peer: str) -> dict[str, Any]:
    """Read one frame.

    Raises:
        HostLost: The connection is gone or the frame is not a JSON object in bounds.
    """
    (size,) = _HEAD.unpack(_read_exactly(sock, _HEAD.size, peer))
    if size > MAX_FRAME_BYTES:
        raise HostLost(f"{peer}: a frame of {size} bytes (at most {MAX_FRAME_BYTES})")
    body = _read_exactly(sock, size, peer)
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise HostLost(f"{peer}: a frame that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise HostLost(f"{peer}: a frame that is not a JSON object")
    return message


def request_to_wire(request: Request) -> dict[str, Any]:
    """A request as JSON."""
    return asdict(request)


def request_from_wire(data: dict[str, Any]) -> Request:
    """A request from JSON."""
    return Request(**data)


def answer_to_wire(answer: Answer) -> dict[str, Any]:
    """An answer as JSON."""
    return asdict(answer)


def answer_from_wire(data: dict[str, Any]) -> Answer:
    """An answer from JSON."""
    return Answer(**data)


def outcome_from_wire(data: dict[str, Any]) -> ToolOutcome:
    """A tool outcome from JSON."""
    return ToolOutcome(**data)


def attack_outcome_from_wire(data: dict[str, Any]) -> AttackOutcome:
    """An attack outcome from JSON."""
    return AttackOutcome(**data)
