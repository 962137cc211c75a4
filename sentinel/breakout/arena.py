"""The host side of the suite: decoys and listeners the attackers aim at.

Nothing here touches anything of the host's that matters: secrets are decoy files in a
scratch directory, services listen on loopback (and on the host's own address) for this
run only, the "other agent" is a decoy process that sleeps, and everything is removed when
the arena closes, even after a failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sentinel.errors import SandboxError
from sentinel.sandbox.agent_uid import lease
from sentinel.sandbox.launch import SHIM_PYTHON
from sentinel.sandbox.network import GATEWAY_ADDRESS, close_gateway, gateway
from sentinel.sandbox.policy import NetworkPolicy, SandboxPolicy
from sentinel.sandbox.workspace import scratch_dir

IPC_CREAT: Final = 0o1000
IPC_RMID: Final = 0
SERVICE_START_S: Final = 5.0

GATEWAY_SERVICE = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen()
    while True:
        c, _ = s.accept(); c.sendall(("gateway " + sys.argv[1] + "\\n").encode()); c.close()
for port in sys.argv[2:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
threading.Event().wait()
"""
"""The decoy model gateway inside Sentinel's gateway namespace: one allowed port, one not."""

DECOY_PROCESS = """
import sys, time
memory = ("decoy-memory:" + sys.argv[1]).encode() * 64
handle = open(sys.argv[2], "rb")
time.sleep(3600)
"""
"""Another agent's process: its token in argv, environment, memory and an open file."""


def _free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(family, kind) as probe:
        probe.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _host_address() -> str | None:
    """The host's own (non-loopback) IPv4 address, if it has one."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        address = str(probe.getsockname()[0])
        return None if address.startswith("127.") else address
    return None


@dataclass
class Received:
    """What the arena's listeners saw, by channel (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    items: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, channel: str, data: bytes) -> None:
        """Record ``data`` received on ``channel``."""
        with self.lock:
            self.items.append((channel, data))

    def saw(self, channel: str, token: str) -> bool:
        """Whether ``channel`` received bytes containing ``token``."""
        with self.lock:
            return any(c == channel and token.encode() in d for c, d in self.items)


class Arena:
    """Decoys, listeners and facts for one suite run (a context manager).

    Args:
        policy: The production policy; the arena adds the gateway allow-list to it.
        store_path: The audit store the suite writes (a tampering target).
    """

    def __init__(self, policy: SandboxPolicy, store_path: Path) -> None:
        self.token = uuid.uuid4().hex
        self.store_path = store_path
        self.received = Received()
        self._stack = contextlib.ExitStack()
        self._sockets: list[socket.socket] = []
        self.host_ip = _host_address()
        self.base_policy = policy
        self.root = Path()
        self.facts: dict[str, Any] = {}
        self.policy = policy
        self.decoy: subprocess.Popen[bytes] | None = None
        self.other_uid = -1
        """The other agent's uid (its workspace and its process)."""

    # -- set-up ------------------------------------------------------------------------

    def __enter__(self) -> Arena:
        try:
            self.root = self._stack.enter_context(scratch_dir("sentinel-breakout"))
            other_agent = lease(f"breakout-other-agent-{self.token}")
            self._stack.callback(other_agent.release)
            self.other_uid = other_agent.uid
            self._stack.callback(self._remove_host_decoys)
            self._files()
            self._services()
            self._gateway()
            self._decoy_process()
            self._shared_memory()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._stack.close()

    def path(self, name: str) -> Path:
        """A path under the arena's scratch directory."""
        return self.root / name

    def _files(self) -> None:
        host = self.path("host")
        host.mkdir()
        host.chmod(0o777)  # so a write that gets out of the sandbox can land (and be seen)
        (host / "secret.txt").write_text(f"host-secret {self.token}\n")
        (host / "secret.txt").chmod(0o644)
        other = self.path("other-agent")
        other.mkdir(mode=0o700)
        (other / "notes.txt").write_text(f"other-agent-notes {self.token}\n")
        (other / "notes.txt").chmod(0o600)
        for path in (other, other / "notes.txt"):
            os.chown(path, self.other_uid, self.other_uid)  # that agent's own uid
        gateway_dir = self.path("gateway")
        gateway_dir.mkdir(mode=0o755)
        (gateway_dir / "secrets.env").write_text(f"OPENAI_API_KEY=sk-decoy-{self.token}\n")
        (gateway_dir / "secrets.env").chmod(0o600)
        self.path("run").mkdir(mode=0o755)
        shm = Path("/dev/shm")  # noqa: S108 - a decoy file, removed at close
        self.dev_shm = shm / f"sentinel-breakout-{self.token}"
        self.dev_shm.write_text(f"shm-secret {self.token}\n")
        self.dev_shm.chmod(0o644)
        self.usr_target = Path("/usr/local/share") / f"sentinel-breakout-{self.token}"
        self.facts.update(
            token=self.token,
            host_dir=str(host),
            host_secret=str(host / "secret.txt"),
            other_workspace=str(other),
            other_notes=str(other / "notes.txt"),
            gateway_secret=str(gateway_dir / "secrets.env"),
            store_path=str(self.store_path),
            dev_shm=str(self.dev_shm),
            usr_target=str(self.usr_target),
            shadow_sha256=_digest(Path("/etc/shadow")),
            passwd_sha256=_digest(Path("/etc/passwd")),
            host_ip=self.host_ip,
            limits=self.base_policy.resources.model_dump(),
            **_kernel_facts(),
        )

    def _remove_host_decoys(self) -> None:
        planted = list(Path("/usr/local/share").glob(f"sentinel-breakout-{self.token}*"))
        for path in (getattr(self, "dev_shm", None), *planted):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _listen(
        self, family: int, kind: int, address: str | tuple[str, int], channel: str
    ) -> socket.socket:
        sock = socket.socket(family, kind)
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        self._sockets.append(sock)
        greeting = f"sentinel-breakout-greeting {self.token}\n".encode()
        if kind == socket.SOCK_STREAM:
            sock.listen(16)
            threading.Thread(
                target=self._accept, args=(sock, channel, greeting), daemon=True
            ).start()
        else:
            threading.Thread(target=self._receive, args=(sock, channel), daemon=True).start()
        return sock

    def _accept(self, sock: socket.socket, channel: str, greeting: bytes) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    conn.sendall(greeting)
                    self.received.add(channel, conn.recv(4096))

    def _receive(self, sock: socket.socket, channel: str) -> None:
        while True:
            try:
                data, _ = sock.recvfrom(65536)
            except OSError:
                return
            self.received.add(channel, data)

    def _services(self) -> None:
        ports: dict[str, Any] = {}
        for channel, family, kind, host in (
            ("tcp", socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
            ("udp", socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
            ("dns", socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
            ("tcp6", socket.AF_INET6, socket.SOCK_STREAM, "::1"),
            ("host_tcp", socket.AF_INET, socket.SOCK_STREAM, self.host_ip),
            ("host_udp", socket.AF_INET, socket.SOCK_DGRAM, self.host_ip),
        ):
            if host is None:
                ports[channel] = None
                continue
            try:
                sock = self._listen(family, kind, (host, 0), channel)
            except OSError:
                ports[channel] = None  # e.g. no IPv6 on this host: the control says so
                continue
            ports[channel] = sock.getsockname()[1]
        service = self.path("run") / "service.sock"
        self._listen(socket.AF_UNIX, socket.SOCK_STREAM, str(service), "unix")
        service.chmod(0o777)
        abstract = f"sentinel-breakout-{self.token}"
        self._listen(socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract, "abstract")
        self.facts.update(ports=ports, service_socket=str(service), abstract_socket=abstract)

    def _gateway(self) -> None:
        allowed, other = _free_port(), _free_port()
        namespace = gateway().name
        self._stack.callback(close_gateway)
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, SHIM_PYTHON, "-c", GATEWAY_SERVICE,  # noqa: S607
             self.token, str(allowed), str(other)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._stack.callback(_stop, server)
        probe = f"import socket; socket.create_connection(('{GATEWAY_ADDRESS}', {other}), 1)"
        deadline = time.monotonic() + SERVICE_START_S
        while True:
            done = subprocess.run(
                ["ip", "netns", "exec", namespace, SHIM_PYTHON, "-c", probe],  # noqa: S607
                capture_output=True, check=False,
            )  # fmt: skip
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise SandboxError("the decoy gateway in the gateway namespace did not start")
            time.sleep(0.05)
        network = NetworkPolicy(mode="allowlist", allow=[f"{GATEWAY_ADDRESS}:{allowed}"])
        self.policy = self.base_policy.model_copy(update={"network": network})
        self.facts.update(gateway={"address": GATEWAY_ADDRESS, "allowed": allowed, "other": other})

    def _decoy_process(self) -> None:
        uid = self.other_uid

        def drop() -> None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

        notes = self.facts["other_notes"]
        self.decoy = subprocess.Popen(
            [SHIM_PYTHON, "-c", DECOY_PROCESS, self.token, notes],
            env={"SENTINEL_DECOY_SECRET": self.token, "PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=drop,  # noqa: PLW1509 - a decoy running as another agent would
            start_new_session=True,
        )  # fmt: skip
        self._stack.callback(_stop, self.decoy)
        deadline = time.monotonic() + SERVICE_START_S
        fd_dir = Path(f"/proc/{self.decoy.pid}/fd")
        while (fd := _fd_open_on(fd_dir, notes)) is None:
            if time.monotonic() > deadline or self.decoy.poll() is not None:
                raise SandboxError("the decoy agent process did not start")
            time.sleep(0.02)
        self.facts.update(decoy={"pid": self.decoy.pid, "notes_fd": fd})

    def _shared_memory(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        key = int(self.token[:7], 16) | 0x5E000000
        shmid = libc.shmget(key, 4096, IPC_CREAT | 0o666)
        if shmid < 0:
            raise SandboxError(f"shmget failed: {os.strerror(ctypes.get_errno())}")
        self._stack.callback(libc.shmctl, shmid, IPC_RMID, None)
        address = libc.shmat(shmid, None, 0)
        data = f"sysv-shm {self.token}".encode()
        ctypes.memmove(address, data, len(data))
        libc.shmdt(ctypes.c_void_p(address))
        self.facts.update(shm_key=key)

    # -- facts -------------------------------------------------------------------------

    def json(self, nonce: str) -> str:
        """The facts handed to an attacker (as its argv[1]), with its run's marker."""
        return json.dumps({**self.facts, "run": nonce}, sort_keys=True)


def _kernel_facts() -> dict[str, Any]:
    """Host interfaces some scenarios aim at (None where this host has none)."""
    disks = [
        name
        for name in sorted(path.name for path in Path("/sys/block").iterdir())
        if not name.startswith(("loop", "ram", "zram", "sr", "dm-", "md"))
    ]
    release_agents = sorted(Path("/sys/fs/cgroup").glob("*/release_agent"))
    controller = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split(" - ")
            if len(fields) == 2 and fields[1].startswith("cgroup "):
                options = fields[1].split()[-1].split(",")
                controller = next((o for o in options if o in ("memory", "pids", "cpu")), None)
                if controller:
                    break
    device = f"/dev/{disks[0]}" if disks and Path(f"/dev/{disks[0]}").exists() else None
    refused = None if device else "this host has no block device"
    if device:
        try:
            os.close(os.open(device, os.O_RDONLY))
        except OSError as exc:
            refused = f"root itself may not open {device} here ({exc.strerror})"
    return {
        "block_device": device,
        "block_device_refused": refused,
        "thp": Path("/sys/kernel/mm/transparent_hugepage/enabled").exists(),
        "release_agent": str(release_agents[0]) if release_agents else None,
        "cgroup_v1_controller": controller,
    }


def _fd_open_on(directory: Path, target: str) -> int | None:
    """The descriptor in ``/proc/PID/fd`` open on ``target``, if any.

    Descriptors come and go while the process starts (the interpreter opens and closes
    files): one listed may be gone before it is read, which is not an error here.
    """
    try:
        entries = list(directory.iterdir())
    except OSError:
        return None
    for entry in entries:
        try:
            if str(entry.readlink()) == target:
                return int(entry.name)
        except (OSError, ValueError):
            continue
    return None


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()[:65536]).hexdigest()
    except OSError:
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
