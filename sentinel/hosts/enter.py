"""Start a worker host inside its network namespace: ``python -m sentinel.hosts.enter NS ...``.

``ip netns exec`` would also unshare the mount namespace and remount ``/sys``, hiding the
cgroup hierarchy the sandboxes need; this joins only the network namespace (``setns(2)``
with ``CLONE_NEWNET``) and then runs :mod:`sentinel.hosts.worker`. It joins before the
worker's imports so that every thread the worker starts later is in the namespace too
(namespaces are per thread; a new thread inherits its creator's).
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"


def join(namespace: str) -> None:
    """Join the named network namespace (this thread; call it before starting any other).

    Raises:
        OSError: The namespace does not exist or ``setns`` failed.
    """
    if os.path.basename(namespace) != namespace or not namespace:  # noqa: PTH119
        raise OSError(f"not a namespace name: {namespace!r}")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY | os.O_CLOEXEC)  # noqa: PTH118
    try:
        if libc.setns(ctypes.c_int(fd), ctypes.c_int(CLONE_NEWNET)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {namespace}: {os.strerror(err)}")
    finally:
        os.close(fd)


def main() -> None:
    """Join ``argv[1]``'s network namespace, then run the worker with the rest."""
    join(sys.argv[1])
    from sentinel.hosts.worker import main as worker_main  # noqa: PLC0415 - after the join

    worker_main(sys.argv[2:])


if __name__ == "__main__":
    main()
