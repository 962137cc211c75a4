"""The egress allow-list: per-agent namespace, veth into Sentinel's gateway namespace,
nftables drops everything else and counts it. Nothing is configured on the host."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.sandbox.network import GATEWAY_ADDRESS, close_gateway, gateway
from sentinel.sandbox.policy import NetworkPolicy, SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

OTHER_ADDRESS = "10.213.255.254"
"""A second address in the gateway namespace: same ports, not on any allow-list."""

SERVER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen()
    while True:
        c, _ = s.accept(); c.sendall(b"gateway " + str(port).encode() + b"\\n"); c.close()
for port in sys.argv[2:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
threading.Event().wait()
"""


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith("sentinel-")}


@pytest.fixture
def services() -> Iterator[tuple[int, int]]:
    before = _namespaces()
    allowed, denied = random.sample(range(20000, 60000), 2)
    gw = gateway()
    subprocess.run(
        ["ip", "-n", gw.name, "addr", "add", f"{OTHER_ADDRESS}/16", "dev", "br0"], check=True
    )
    server = subprocess.Popen(["ip", "netns", "exec", gw.name, "/usr/bin/python3", "-c", SERVER,
                               GATEWAY_ADDRESS, str(allowed), str(denied)])  # fmt: skip
    try:
        for _ in range(50):
            probe = subprocess.run(["ip", "netns", "exec", gw.name, "/usr/bin/python3", "-c",
                                    f"import socket; socket.create_connection(('{GATEWAY_ADDRESS}', {denied}), 1)"],
                                   capture_output=True, check=False)  # fmt: skip
            if probe.returncode == 0:
                break
            time.sleep(0.05)
        yield allowed, denied
    finally:
        server.kill()
        server.wait()
        close_gateway()
        # Only this test's namespaces (other runs on the host may hold theirs meanwhile).
        own = ("sentinel-agent-", "sentinel-netagent-")
        assert {n for n in _namespaces() - before if n == gw.name or n.startswith(own)} == set()


def _policy(*ports: int) -> SandboxPolicy:
    network = NetworkPolicy(mode="allowlist", allow=[f"{GATEWAY_ADDRESS}:{port}" for port in ports])
    return SandboxPolicy().model_copy(update={"network": network})


def _connect(port: int, address: str = GATEWAY_ADDRESS) -> list[str]:
    code = f"import socket; print(socket.create_connection(('{address}', {port}), timeout=1).recv(64).decode().strip())"
    return ["python3", "-c", code]


def test_only_allowed_destinations_are_reachable(
    services: tuple[int, int], workspace: Path
) -> None:
    allowed, denied = services
    policy = _policy(allowed)
    reached = run_once(policy, _connect(allowed), workspace=workspace)
    assert reached.exit_code == 0 and reached.stdout == f"gateway {allowed}\n".encode(), (
        reached.stderr
    )
    assert reached.violations == ()
    # Another port: Landlock refuses the connect() itself (no packet leaves, none counted).
    other_port = run_once(policy, _connect(denied), workspace=workspace)
    assert other_port.exit_code != 0 and b"PermissionError" in other_port.stderr
    # An allowed port at another address: nftables drops the packets and counts them.
    other_host = run_once(policy, _connect(allowed, OTHER_ADDRESS), workspace=workspace)
    assert other_host.exit_code != 0 and b"timed out" in other_host.stderr
    assert [v.kind for v in other_host.violations] == ["egress_dropped"]
    # Controls: allow-list them, and the same connections go through.
    assert run_once(_policy(allowed, denied), _connect(denied), workspace=workspace).exit_code == 0
    wider = SandboxPolicy().model_copy(update={"network": NetworkPolicy(
        mode="allowlist", allow=[f"{GATEWAY_ADDRESS}:{allowed}", f"{OTHER_ADDRESS}:{allowed}"])})  # fmt: skip
    assert run_once(wider, _connect(allowed, OTHER_ADDRESS), workspace=workspace).exit_code == 0


def test_the_host_stays_unreachable_with_an_allow_list(
    services: tuple[int, int], workspace: Path
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        code = f"import socket; socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=1)"
        assert (
            run_once(_policy(services[0]), ["python3", "-c", code], workspace=workspace).exit_code
            != 0
        )
    finally:
        listener.close()


def test_warm_sandbox_with_an_allow_list(services: tuple[int, int], workspace: Path) -> None:
    allowed, denied = services
    with Sandbox(_policy(allowed), "net-agent", workspace=workspace) as sandbox:
        assert sandbox.run(_connect(allowed)).exit_code == 0
        assert sandbox.run(_connect(denied)).exit_code != 0
        blocked = sandbox.run(_connect(allowed, OTHER_ADDRESS))
        assert blocked.exit_code != 0 and [v.kind for v in blocked.violations] == ["egress_dropped"]
        assert sandbox.run(_connect(allowed)).violations == ()
