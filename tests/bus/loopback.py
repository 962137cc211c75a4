"""Helpers of the bus tests: a free loopback endpoint, and waiting for a condition."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_endpoint() -> str:
    """A Zenoh TCP endpoint on a loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp/127.0.0.1:{sock.getsockname()[1]}"


def wait_until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")
