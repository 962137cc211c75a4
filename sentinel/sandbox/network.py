"""Egress allow-lists: a network namespace per agent, wired to a gateway namespace.

``network.mode = "none"`` needs nothing here (a fresh namespace has only loopback). For
``allowlist``, each agent gets a namespace of its own with a veth pair into a *gateway
namespace* that Sentinel creates once per process (a bridge there joins the agents'
veths; the model gateway listens there). Nothing is configured in the host's own network
namespace: no links, no addresses, no nftables rules.

Inside the agent's namespace an nftables table drops every outgoing packet except to the
allowed ``ip:port`` pairs (and loopback), and counts what it drops. The agent runs without
``CAP_NET_ADMIN`` over that namespace (it belongs to the host's user namespace), so it
cannot change the rules.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import subprocess
import threading
import uuid
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import leftovers

GATEWAY_SUBNET: Final = ipaddress.ip_network("10.213.0.0/16")
"""Addresses used only inside Sentinel's own namespaces (never routed to the host)."""
GATEWAY_ADDRESS: Final = str(next(GATEWAY_SUBNET.hosts()))
NFT_TABLE: Final = "sentinel_egress"
COMMAND_TIMEOUT_S: Final = 10.0


def _run(argv: list[str], *, stdin: str | None = None) -> str:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:6])}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _ip(*args: str, netns: str | None = None) -> str:
    return _run(["ip", *(["-n", netns] if netns else []), *args])


class GatewayNamespace:
    """The namespace agents' veths plug into (one per Sentinel process)."""

    def __init__(self) -> None:
        self.name = f"sentinel-gw-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", "br0", "type", "bridge", netns=self.name)
            _ip(
                "addr",
                "add",
                f"{GATEWAY_ADDRESS}/{GATEWAY_SUBNET.prefixlen}",
                "dev",
                "br0",
                netns=self.name,
            )
            _ip("link", "set", "br0", "up", netns=self.name)
            _ip("link", "set", "lo", "up", netns=self.name)
        except SandboxError:
            self.close()
            raise
        self._next_host = 2
        self._lock = threading.Lock()

    def allocate(self) -> str:
        """The next free agent address."""
        with self._lock:
            address = GATEWAY_SUBNET.network_address + self._next_host
            self._next_host += 1
        if address not in GATEWAY_SUBNET or address == GATEWAY_SUBNET.broadcast_address:
            raise SandboxError("the gateway subnet has no free addresses left")
        return str(address)

    def close(self) -> None:
        """Delete the namespace (its bridge goes with it)."""
        with contextlib.suppress(SandboxError):
            _ip("netns", "delete", self.name)


_gateway: GatewayNamespace | None = None
_gateway_lock = threading.Lock()


def gateway() -> GatewayNamespace:
    """This process's gateway namespace, created on first use and deleted at exit."""
    global _gateway  # noqa: PLW0603 - one gateway per process, removed by atexit
    with _gateway_lock:
        if _gateway is None:
            _gateway = GatewayNamespace()
            atexit.register(_gateway.close)
        return _gateway


def close_gateway() -> None:
    """Delete this process's gateway namespace now (a new one is made on next use)."""
    global _gateway  # noqa: PLW0603 - see gateway()
    with _gateway_lock:
        if _gateway is not None:
            _gateway.close()
            _gateway = None


class AgentNetwork:
    """One agent's namespace: a veth into the gateway and an egress allow-list.

    Args:
        agent_id: Names the namespace (with a random suffix).
        allow: ``ip:port`` pairs the agent may open TCP connections to.

    Raises:
        SandboxError: A namespace, link or rule could not be created (nothing is left).
    """

    def __init__(self, agent_id: str, allow: list[str]) -> None:
        self.gateway = gateway()
        suffix = uuid.uuid4().hex[:8]
        self.name = f"sentinel-{''.join(c for c in agent_id if c.isalnum())[:20]}-{suffix}"
        self.address = self.gateway.allocate()
        host_end = f"snl{suffix}"
        leftovers.take("netns", self.name)
        _ip("netns", "add", self.name)
        try:
            # No IPv6 in the agent's namespace: nothing to allow-list there, and router
            # solicitations would show up as dropped packets the agent never sent.
            no_ipv6 = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
            _run(["ip", "netns", "exec", self.name, "sysctl", "-q", "-w", *no_ipv6])
            _ip(
                "link",
                "add",
                host_end,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                self.name,
                netns=self.gateway.name,
            )
            _ip("link", "set", host_end, "master", "br0", "up", netns=self.gateway.name)
            _ip(
                "addr",
                "add",
                f"{self.address}/{GATEWAY_SUBNET.prefixlen}",
                "dev",
                "eth0",
                netns=self.name,
            )
            _ip("link", "set", "eth0", "up", netns=self.name)
            _ip("link", "set", "lo", "up", netns=self.name)
            _ip("route", "add", "default", "via", GATEWAY_ADDRESS, netns=self.name)
            _run(["ip", "netns", "exec", self.name, "nft", "-f", "-"], stdin=self._ruleset(allow))
        except SandboxError:
            self.close()
            raise

    @staticmethod
    def _ruleset(allow: list[str]) -> str:
        rules = []
        for entry in allow:
            host, _, port = entry.rpartition(":")
            address = ipaddress.ip_address(host.strip("[]"))
            family = "ip" if address.version == 4 else "ip6"
            rules.append(f"    {family} daddr {address} tcp dport {port} accept")
        return "\n".join(
            [
                f"table inet {NFT_TABLE} {{",
                "  counter dropped { }",
                "  chain egress {",
                "    type filter hook output priority 0; policy drop;",
                "    oif lo accept",
                "    ct state established,related accept",
                *rules,
                '    counter name "dropped" drop',
                "  }",
                "}",
                "",
            ]
        )

    @property
    def path(self) -> str:
        """The namespace's file, for setns(2)."""
        return f"/run/netns/{self.name}"

    def dropped_packets(self) -> int:
        """Packets the allow-list has dropped so far."""
        try:
            out = _run(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.name,
                    "nft",
                    "-j",
                    "list",
                    "counter",
                    "inet",
                    NFT_TABLE,
                    "dropped",
                ]
            )
        except SandboxError:
            return 0
        for item in json.loads(out).get("nftables", []):
            if "counter" in item:
                return int(item["counter"].get("packets", 0))
        return 0

    def close(self) -> None:
        """Delete the namespace; its veth end in the gateway goes with it.

        Raises:
            SandboxError: The namespace exists and could not be deleted.
        """
        if os.path.lexists(self.path):
            _ip("netns", "delete", self.name)
        leftovers.give_back("netns", self.name)
