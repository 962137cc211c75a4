"""Zenoh publish -> receive latency on one host: shared memory against TCP.

Two processes: this one publishes samples carrying ``time.monotonic_ns()`` (one clock for
every process on a host), a child subscribes and records receive minus send. Run:
``python benches/bus_latency.py`` (prints JSON); ``test_bus_latency.py`` calls it.
"""

from __future__ import annotations

import json
import socket
import statistics
import struct
import subprocess
import sys
import time

from zenoh.shm import ShmProvider

from sentinel.bus.session import open_session

SAMPLES = 2000
PAYLOAD_BYTES = 256
"""The first measurement's size (kept for comparison with the earlier numbers)."""
EVENT_MESSAGE_BYTES = (1745, 3400)
"""An event sample as published since it carries its canonical text and both hashes: the
median and p90 of a 12-agent, 0.5 h run's 639 events (597 and 1,433 bytes before)."""


def _subscriber(endpoint: str, shm: bool, count: int) -> None:
    session = open_session(connect=[endpoint], shm=shm)
    delays: list[int] = []
    in_shm = [0]

    def receive(sample: object) -> None:
        now = time.monotonic_ns()
        payload = sample.payload  # type: ignore[attr-defined]
        sent = struct.unpack_from("<q", payload.to_bytes())[0]
        in_shm[0] += payload.as_shm() is not None
        delays.append(now - sent)

    sub = session.declare_subscriber("bench/latency", receive)
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while len(delays) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    sub.undeclare()  # type: ignore[no-untyped-call]  # zenoh stubs
    session.close()  # type: ignore[no-untyped-call]  # zenoh stubs
    print(json.dumps({"delays": delays, "in_shm": in_shm[0]}), flush=True)


def measure(
    shm: bool, samples: int = SAMPLES, payload_bytes: int = PAYLOAD_BYTES
) -> dict[str, float]:
    """p50/p90 in microseconds of publish -> receive between two processes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"tcp/127.0.0.1:{sock.getsockname()[1]}"
    session = open_session(listen=[endpoint], shm=shm)
    publisher = session.declare_publisher("bench/latency")
    child = subprocess.Popen(
        [sys.executable, __file__, "sub", endpoint, str(int(shm)), str(samples)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        while not getattr(publisher.matching_status, "matching", False):  # stubs say bool
            time.sleep(0.01)
        provider = None
        if shm:
            provider = ShmProvider.default_backend(8 << 20)
        for _ in range(samples):
            body = bytearray(payload_bytes)
            if provider is not None:
                buffer = provider.alloc(payload_bytes)
                struct.pack_into("<q", body, 0, time.monotonic_ns())
                buffer[0:payload_bytes] = bytes(body)
                publisher.put(buffer)
            else:
                struct.pack_into("<q", body, 0, time.monotonic_ns())
                publisher.put(bytes(body))
            time.sleep(0.0005)  # one at a time: latency, not queueing
        result = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
        publisher.undeclare()  # type: ignore[no-untyped-call]  # zenoh stubs
        session.close()  # type: ignore[no-untyped-call]  # zenoh stubs
    delays = sorted(d / 1000 for d in result["delays"])
    return {
        "shm": shm,
        "bytes": payload_bytes,
        "received": len(delays),
        "in_shm": result["in_shm"],
        "p50_us": round(statistics.median(delays), 1),
        "p90_us": round(delays[int(len(delays) * 0.9)], 1),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sub":
        _subscriber(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]))
    else:
        sizes = (PAYLOAD_BYTES, *EVENT_MESSAGE_BYTES)
        print(json.dumps([measure(shm, payload_bytes=n) for n in sizes for shm in (True, False)]))
