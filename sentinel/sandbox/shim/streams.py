"""A command's stdin, stdout and stderr: fed and read under a byte limit and a deadline.

Standard library only: the warm sandbox's supervisor loads this file by path inside the
sandbox, and the launcher imports it for cold runs.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable

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
    out_fd: int,
    err_fd: int,
    limit: int,
    deadline: float,
    *,
    exited_fd: int | None = None,
    on_exit: Callable[[], None] | None = None,
) -> tuple[bytes, bytes, bool, bool]:
    """Read both streams until they close, ``limit`` bytes in all, or ``deadline`` passes.

    With ``exited_fd`` (a pidfd of the command), reading also goes on until the command
    exits (closing its streams does not end it), and ``on_exit`` is called once when it
    does, to kill what it left behind holding the streams open; the streams are then read
    to their end (the deadline still applies).

    Returns:
        ``(stdout, stderr, truncated, timed_out)``; the outputs are cut to ``limit`` bytes.
    """
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    poller = select.poll()
    open_fds = {out_fd, err_fd}
    for fd in (out_fd, err_fd):
        poller.register(fd, select.POLLIN)
    running = exited_fd is not None
    if exited_fd is not None:
        poller.register(exited_fd, select.POLLIN)
    truncated = timed_out = False
    while (open_fds or running) and not truncated:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(remaining * 1000 + 1):
            if fd == exited_fd:
                poller.unregister(fd)
                running = False
                if on_exit is not None:
                    on_exit()
                continue
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
            buffers[fd] += chunk
            truncated = len(buffers[out_fd]) + len(buffers[err_fd]) > limit
    out = bytes(buffers[out_fd][:limit])
    return out, bytes(buffers[err_fd][: max(0, limit - len(out))]), truncated, timed_out
