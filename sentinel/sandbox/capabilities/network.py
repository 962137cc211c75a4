"""Detect network namespaces, veth pairs and nftables, each tried in a throwaway namespace."""

from __future__ import annotations

import re
from typing import Final

from sentinel.sandbox import kernel_api
from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import (
    LayerJudge,
    LayerReport,
    NetworkFacts,
    Probe,
)

NFT_PROBE_RULESET: Final = (
    "add table inet sentinel_doctor\n"
    "add chain inet sentinel_doctor egress { type filter hook output priority 0; policy drop; }\n"
    "add rule inet sentinel_doctor egress counter drop\n"
)
"""The shape of a per-agent egress filter: a drop-policy output hook with a counter."""
VETH_PROBE_ARGS: Final = (
    "link",
    "add",
    "sentinel-d0",
    "type",
    "veth",
    "peer",
    "name",
    "sentinel-d1",
)

NETNS = LayerJudge("netns", "layer")


def _command_probe(host: HostView, argv: list[str], stdin: str | None = None) -> Probe:
    result = host.run(argv, stdin=stdin, in_new_netns=True)
    return Probe(ok=result.returncode == 0, detail=result.stderr.strip()[:300])


def detect_network(host: HostView) -> NetworkFacts:
    """Create network namespaces, and inside fresh ones a veth pair and an nftables chain."""
    as_root = host.unshare_probe(kernel_api.CLONE_NEWNET) if host.euid() == 0 else None
    unprivileged = host.unshare_probe(
        kernel_api.CLONE_NEWUSER | kernel_api.CLONE_NEWNET, as_uid=host.unprivileged_ids()
    )
    ip_path = host.which("ip")
    nft_path = host.which("nft")
    can_probe = as_root.ok if as_root is not None else False
    veth = _command_probe(host, [ip_path, *VETH_PROBE_ARGS]) if ip_path and can_probe else None
    nft_version = None
    nft_hook = None
    if nft_path is not None:
        match = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", host.run([nft_path, "--version"]).stdout)
        nft_version = match.group(1) if match else None
        if can_probe:
            nft_hook = _command_probe(host, [nft_path, "-f", "-"], stdin=NFT_PROBE_RULESET)
    return NetworkFacts(
        netns_as_root=as_root,
        netns_unprivileged=unprivileged,
        ip_path=ip_path,
        veth=veth,
        nft_path=nft_path,
        nft_version=nft_version,
        nft_output_hook=nft_hook,
    )


def assess_network(facts: NetworkFacts) -> LayerReport:
    """Judge the netns + nftables layer."""
    netns = facts.netns_as_root or facts.netns_unprivileged
    if not netns.ok:
        return NETNS.unavailable(
            summary="no network namespaces",
            reason=f"unshare(CLONE_NEWNET) refused: {netns.detail}",
            fix="run a kernel with CONFIG_NET_NS=y and run Sentinel as root",
        )
    nft = f"nft {facts.nft_version}" if facts.nft_path else "no nft"
    summary = f"netns; {nft}; veth {'yes' if facts.veth and facts.veth.ok else 'no'}"
    if facts.netns_as_root is None:
        return NETNS.degraded(
            summary=summary,
            reason="not root: namespaces work, but veth links and nftables need CAP_NET_ADMIN on "
            "the host, so only network='none' (loopback only) can be enforced",
            fix="run Sentinel as root",
        )
    if facts.nft_path is None:
        return NETNS.degraded(
            summary=summary,
            reason="nft is missing: egress allow-lists cannot be enforced, only network='none'",
            fix="apt-get install nftables",
        )
    if facts.nft_output_hook is None or not facts.nft_output_hook.ok:
        detail = facts.nft_output_hook.detail if facts.nft_output_hook else "not tried"
        return NETNS.degraded(
            summary=summary,
            reason=f"an nftables output filter could not be loaded: {detail}; only network='none'",
            fix="modprobe nf_tables (kernel needs CONFIG_NF_TABLES and CONFIG_NF_TABLES_INET)",
        )
    if facts.veth is None or not facts.veth.ok:
        detail = facts.veth.detail if facts.veth else "ip (iproute2) is missing"
        return NETNS.degraded(
            summary=summary,
            reason=f"a veth pair could not be created: {detail}; agents cannot reach the "
            "gateway, only network='none'",
            fix="apt-get install iproute2; modprobe veth",
        )
    return NETNS.available(summary=summary)
