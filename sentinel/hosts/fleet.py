"""The worker host processes of a run: started in their namespaces, called, finished, reaped.

Each worker is ``python -m sentinel.hosts.enter NS`` (joins network namespace ``NS``,
then runs :mod:`sentinel.hosts.worker`) in its own session (so a SIGKILL of the host and a
cleanup reach every process it started). The coordinator talks to it over one TCP
connection from the hub namespace (:mod:`sentinel.hosts.network`, :mod:`sentinel.hosts.wire`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from sentinel.agents.backends import remove_run_dir
from sentinel.errors import HostError, HostLost
from sentinel.hosts import wire
from sentinel.hosts.network import HostNetwork, worker_address

START_TIMEOUT_S: Final = 120.0
"""Ours: a worker imports Sentinel and opens its store in a few seconds on a loaded machine."""
CALL_TIMEOUT_S: Final = 300.0
"""Ours: the longest request is a tick's decisions or a sandbox build with a tool run; a
killed host is noticed at once (its connection closes), this only bounds a hung one."""
EXIT_TIMEOUT_S: Final = 30.0


def host_store(store: Path, host: int) -> Path:
    """Worker host ``host``'s own store beside the coordinator's (``run.host1.db``)."""
    return store.with_name(f"{store.stem}.host{host}{store.suffix}")


def host_log(store: Path, host: int) -> Path:
    """Where worker host ``host``'s stderr goes (``run.host1.log``)."""
    return store.with_name(f"{store.stem}.host{host}.log")


@dataclass
class WorkerLink:
    """One worker host: its process, its connection, and what it acknowledged."""

    host: int
    process: subprocess.Popen[bytes]
    store: Path
    log: IO[bytes]
    namespace: str
    """The host's network namespace (its link to the hub is ``eth0`` there)."""
    sock: Any = None
    run_dir: str | None = None
    log_id: str = ""
    acknowledged: int = 0
    """Events the host reported committed in its store in its last reply."""
    lamport: int = 0
    lost: str | None = None
    """Why the host was lost (None while it runs)."""
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def peer(self) -> str:
        """The host's name in messages."""
        return f"worker host {self.host}"

    def send(self, message: dict[str, Any]) -> None:
        """Send one frame. Raises HostLost."""
        if self.lost is not None:
            raise HostLost(f"{self.peer}: lost earlier ({self.lost})")
        wire.send(self.sock, message, self.peer)

    def receive(self) -> dict[str, Any]:
        """Read one reply; remember its clock and committed size. Raises HostLost."""
        reply = wire.receive(self.sock, self.peer)
        if "error" in reply:
            raise HostError(f"{self.peer}: {reply['error']}")
        self.lamport = max(self.lamport, int(reply.get("lamport", 0)))
        self.acknowledged = max(self.acknowledged, int(reply.get("committed", 0)))
        return reply

    def kill(self) -> None:
        """SIGKILL the host's whole session (its sandboxes too); wait for it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(EXIT_TIMEOUT_S)

    def close(self) -> None:
        """Close the connection; kill the host if it has not exited; remove a lost host's files."""
        if self.sock is not None:
            self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(EXIT_TIMEOUT_S if self.lost is None else 0)
        self.kill()  # its session: sandbox supervisors it left behind go too
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()
        if self.lost is not None and self.run_dir:
            remove_run_dir(Path(self.run_dir))  # it could not remove its own


def _wait_for_port(link: WorkerLink, deadline_s: float) -> int:
    stdout = link.process.stdout
    assert stdout is not None  # noqa: S101 - started with stdout=PIPE
    ready, _, _ = select.select([stdout], [], [], deadline_s)
    line = stdout.readline().decode(errors="replace").strip() if ready else ""
    if not line.startswith("listening "):
        link.kill()
        raise HostError(
            f"{link.peer} did not start (see {link.log.name}): {line or 'no answer in time'}"
        )
    return int(line.split()[1])


def start_workers(
    network: HostNetwork, store: Path, options_record: dict[str, Any]
) -> list[WorkerLink]:
    """Start one worker per namespace, connect to each, open its store; all or none.

    Raises:
        HostError: A worker did not start or did not open (every one started is killed).
    """
    links: list[WorkerLink] = []
    try:
        for host, namespace in enumerate(network.workers, start=1):
            log = host_log(store, host).open("wb")
            argv = [
                sys.executable, "-m", "sentinel.hosts.enter", namespace,
                "--host", str(host), "--listen", worker_address(host),
            ]  # fmt: skip
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=log, start_new_session=True
            )
            links.append(WorkerLink(host, process, host_store(store, host), log, namespace))
        for link in links:
            port = _wait_for_port(link, START_TIMEOUT_S)
            link.sock = network.connect(link.host, port, CALL_TIMEOUT_S)
            link.send({"op": "open", "options": options_record, "store": str(link.store)})
        for link in links:
            opened = link.receive()
            link.run_dir = opened["run_dir"]
            link.log_id = opened["log_id"]
    except BaseException as exc:
        for link in links:
            link.lost = link.lost or "the run did not start"
            link.close()
        if isinstance(exc, HostLost):
            raise HostError(f"a worker host failed while opening: {exc}") from None
        raise
    return links
