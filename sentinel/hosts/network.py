"""Network namespaces for worker hosts: one per worker, bridged in a hub namespace.

Each worker host runs in a network namespace of its own (``sentinel-host-<run>-<n>``) with
one veth into a *hub* namespace (``sentinel-hub-<run>``) whose bridge joins them all; the
coordinator's sockets are created in the hub (``setns`` on a short-lived thread: a socket
stays in the namespace it was created in). Nothing is configured in the host's own network
namespace. Every namespace is leased (:mod:`sentinel.sandbox.leftovers`) so ``sentinel-run sandbox
gc`` removes it after a crash, and :meth:`HostNetwork.close` removes them on every other
exit path.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
import threading
import uuid
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import kernel_api, leftovers

HOSTS_SUBNET: Final = ipaddress.ip_network("10.214.0.0/24")
"""Addresses used only between the hub and the workers (never routed to the host); a /24
holds the hub and up to 253 workers."""
HUB_ADDRESS: Final = str(HOSTS_SUBNET.network_address + 1)
MAX_HOSTS: Final = HOSTS_SUBNET.num_addresses - 3
COMMAND_TIMEOUT_S: Final = 10.0
NETNS_DIR: Final = "/run/netns"


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:7])}: {done.stderr.strip() or done.returncode}")


def worker_address(host: int) -> str:
    """Worker host ``host``'s address (1-based) on the hub's bridge."""
    return str(HOSTS_SUBNET.network_address + 1 + host)


class HostNetwork:
    """A hub namespace and ``hosts`` worker namespaces, each wired to the hub by a veth.

    Args:
        hosts: How many worker namespaces.

    Raises:
        SandboxError: A namespace or link could not be made (everything made is removed).
    """

    def __init__(self, hosts: int) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise SandboxError(f"hosts must be 1-{MAX_HOSTS}, not {hosts}")
        run = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.hub = f"sentinel-hub-{run}"
        self.workers = [f"sentinel-host-{run}-{n}" for n in range(1, hosts + 1)]
        self._made: list[str] = []
        try:
            self._add(self.hub)
            _ip("link", "add", "br0", "type", "bridge", netns=self.hub)
            _ip("addr", "add", f"{HUB_ADDRESS}/{HOSTS_SUBNET.prefixlen}", "dev", "br0",
                netns=self.hub)  # fmt: skip
            _ip("link", "set", "br0", "up", netns=self.hub)
            _ip("link", "set", "lo", "up", netns=self.hub)
            for host, name in enumerate(self.workers, start=1):
                self._add(name)
                veth = f"w{host}"
                _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name,
                    netns=self.hub)  # fmt: skip
                _ip("link", "set", veth, "master", "br0", "up", netns=self.hub)
                _ip("addr", "add", f"{worker_address(host)}/{HOSTS_SUBNET.prefixlen}", "dev",
                    "eth0", netns=name)  # fmt: skip
                _ip("link", "set", "eth0", "up", netns=name)
                _ip("link", "set", "lo", "up", netns=name)
        except BaseException:
            self.close()
            raise

    def _add(self, name: str) -> None:
        leftovers.take("netns", name)
        try:
            _ip("netns", "add", name)
        except SandboxError:
            leftovers.give_back("netns", name)
            raise
        self._made.append(name)

    def connect(self, host: int, port: int, timeout: float) -> socket.socket:
        """A TCP connection from the hub to worker ``host`` (1-based) on ``port``."""
        made: list[socket.socket | BaseException] = []

        def in_hub() -> None:
            # This thread joins the hub and ends; the socket keeps the hub's namespace for
            # its whole life (namespaces are per thread; the caller's is never changed).
            try:
                with open(os.path.join(NETNS_DIR, self.hub), "rb") as hub:  # noqa: PTH118, PTH123
                    err = kernel_api.setns(hub.fileno(), kernel_api.CLONE_NEWNET)
            except OSError as exc:
                made.append(exc)
                return
            if err:
                made.append(OSError(err, f"setns into {self.hub}: {os.strerror(err)}"))
                return
            made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))

        thread = threading.Thread(target=in_hub, name="sentinel-hub-socket")
        thread.start()
        thread.join()
        sock = made[0]
        if isinstance(sock, BaseException):
            raise SandboxError(f"cannot open a socket in {self.hub}: {sock}")
        try:
            sock.settimeout(timeout)
            sock.connect((worker_address(host), port))
        except OSError:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        """Delete every namespace made (their veths and bridge go with them)."""
        for name in reversed(self._made):
            with contextlib.suppress(SandboxError, subprocess.TimeoutExpired):
                _ip("netns", "delete", name)
            leftovers.give_back("netns", name)
        self._made.clear()

    def __enter__(self) -> HostNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
