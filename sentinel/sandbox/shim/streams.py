"""A command's stdin, stdout and stderr: fed and read under a byte limit and a deadline.

Standard library only: the warm sandbox's supervisor loads this file by path inside the
sandbox, and the launcher imports it for cold runs.
"""

from __future__ import annotations

import os
import selectors
import threading
import time

READ_CHUNK = 65536


def feed(fd: int, data: bytes) -> threading.Thread:
    """Write ``data`` to ``fd`` from a thread, then close it (a command may never read it)."""

    def write() -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view[:READ_CHUNK]) :]
        except OSError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def read_outputs(
    out_fd: int, err_fd: int, limit: int, deadline: float
) -> tuple[bytes, bytes, bool, bool]:
    """Read both streams until they close, ``limit`` bytes in all, or ``deadline`` passes.

    Returns:
        ``(stdout, stderr, truncated, timed_out)``; the outputs are cut to ``limit`` bytes.
    """
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    selector = selectors.DefaultSelector()
    selector.register(out_fd, selectors.EVENT_READ)
    selector.register(err_fd, selectors.EVENT_READ)
    truncated = timed_out = False
    try:
        while selector.get_map() and not truncated:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                buffers[key.fd] += chunk
                truncated = len(buffers[out_fd]) + len(buffers[err_fd]) > limit
    finally:
        selector.close()
    out = bytes(buffers[out_fd][:limit])
    return out, bytes(buffers[err_fd][: max(0, limit - len(out))]), truncated, timed_out
