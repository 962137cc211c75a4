"""The subscriber API: samples of a key expression, decoded, from a queue or a callback."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sentinel.bus.session import open_session


@dataclass(frozen=True)
class BusSample:
    """One sample received: its key, its decoded JSON document, and whether it came in SHM."""

    key: str
    document: dict[str, Any]
    shared_memory: bool
    received_ns: int


class BusSubscriber:
    """Subscribe to a key expression on a publisher's endpoint.

    Args:
        key_expr: A Zenoh key expression, such as ``sentinel/*/agent/AGENT-07/**``.
        connect: The publisher's endpoints (``tcp/127.0.0.1:7447``).
        listen: Endpoints to listen on instead (a publisher connects here).
        shm: Accept shared-memory samples in place.

    Raises:
        BusError: The session cannot be opened.
    """

    def __init__(
        self,
        key_expr: str,
        *,
        connect: list[str] | None = None,
        listen: list[str] | None = None,
        shm: bool = True,
    ) -> None:
        self.key_expr = key_expr
        self.session = open_session(listen=listen, connect=connect, shm=shm)
        self._queue: queue.SimpleQueue[BusSample] = queue.SimpleQueue()
        try:
            self._subscriber = self.session.declare_subscriber(key_expr, self._receive)
        except BaseException:  # a bad key or Ctrl-C: the session would outlive us
            self.session.close()  # type: ignore[no-untyped-call]  # zenoh stubs
            raise

    def _receive(self, sample: Any) -> None:  # noqa: ANN401 - zenoh.Sample
        received = time.monotonic_ns()
        payload = sample.payload
        document = json.loads(payload.to_bytes())
        self._queue.put(
            BusSample(str(sample.key_expr), document, payload.as_shm() is not None, received)
        )

    def get(self, timeout: float | None = None) -> BusSample | None:
        """The next sample, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def __iter__(self) -> Iterator[BusSample]:
        while True:
            sample = self._queue.get()
            yield sample

    def close(self) -> None:
        """Undeclare and close the session. Idempotent."""
        self._subscriber.undeclare()  # type: ignore[no-untyped-call]  # zenoh stubs
        self.session.close()  # type: ignore[no-untyped-call]  # zenoh stubs

    def __enter__(self) -> BusSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
