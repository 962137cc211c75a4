"""Publishing a run's events and tick summaries on the bus, at no cost when nobody listens."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from sentinel.bus.history import event_row
from sentinel.bus.keys import KEY_FAMILIES, PREFIX, checkpoint_key, key_for_event, segment, tick_key
from sentinel.bus.session import open_session

if TYPE_CHECKING:
    import zenoh

    from sentinel.audit.events import Event

SHM_POOL_BYTES: Final = 16 << 20
"""Ours: 16 MiB of shared memory per publishing process holds thousands of in-flight
samples (events are at most a few KiB; a tick summary ~100 bytes)."""

log = logging.getLogger(__name__)


class BusPublisher:
    """One run's publishers, one per key family, each gated on its matching subscribers.

    Args:
        run: The run's id (the ``<run>`` key segment).
        listen: Endpoints this publisher's session listens on (``tcp/127.0.0.1:7447``).
        connect: Endpoints it connects to.
        shm: Put payloads in Zenoh shared memory (same-host subscribers read them in place).

    Raises:
        BusError: The session cannot be opened.
    """

    def __init__(
        self,
        run: str,
        *,
        listen: list[str] | None = None,
        connect: list[str] | None = None,
        shm: bool = True,
    ) -> None:
        self.run = run
        self.listen = list(listen or [])
        """The endpoints the session listens on (where a subscriber connects)."""
        self.session = open_session(listen=listen, connect=connect, shm=shm)
        self._matching: dict[str, bool] = dict.fromkeys(KEY_FAMILIES, False)
        self._publishers: dict[str, zenoh.Publisher] = {}
        self._listeners: list[Any] = []
        self._lock = threading.Lock()
        self._shm = None
        if shm:
            from zenoh.shm import ShmProvider  # noqa: PLC0415 - zenoh is imported by open_session

            self._shm = ShmProvider.default_backend(SHM_POOL_BYTES)
        for family in KEY_FAMILIES:
            publisher = self.session.declare_publisher(f"{PREFIX}/{segment(run)}/{family}/**")
            self._publishers[family] = publisher
            self._listeners.append(publisher.declare_matching_listener(self._on_matching(family)))
        self.sent = 0
        """Samples put (counted only while someone listened)."""

    def _on_matching(self, family: str) -> Any:  # noqa: ANN401 - a zenoh callback
        def update(status: Any) -> None:  # noqa: ANN401 - zenoh.MatchingStatus
            self._matching[family] = bool(status.matching)

        return update

    def listening(self, family: str) -> bool:
        """Whether any subscriber matches the family now (a dict lookup: the hot-path test)."""
        return self._matching.get(family, False)

    def wait_listening(self, families: Sequence[str], timeout: float) -> bool:
        """Wait until a subscriber matches every one of ``families`` (False after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not all(self._matching.get(family, False) for family in families):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _put(self, key: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        payload: Any = data
        if self._shm is not None:
            try:
                buffer = self._shm.alloc(len(data))
                buffer[0 : len(data)] = data
                payload = buffer
            except Exception:  # noqa: BLE001 - pool full: fall back to a copy, never fail a run
                payload = data
        with self._lock:
            self.session.put(key, payload)
            self.sent += 1

    def publish_tick(self, tick: int, summary: dict[str, Any]) -> None:
        """Publish one tick summary (only when someone listens to ``world``)."""
        if self._matching["world"]:
            self._put(tick_key(self.run), {"tick": tick, **summary})

    def publish_events(self, events: Sequence[Event]) -> None:
        """Publish committed audit events under their keys (families nobody watches skip)."""
        for event in events:
            key = key_for_event(self.run, event.type, event.stream, event.payload)
            family = key.split("/", 3)[2]
            if not self._matching.get(family, False):
                continue
            self._put(
                key,
                {
                    "event_id": event.event_id,
                    "lamport": event.lamport,
                    "tick": event.tick,
                    "payload": event.payload,
                    # Position, type, stream and the evidence: a subscriber (the bus-fed
                    # dashboard and planes) checks each link, hash = SHA-256(prev_hash ||
                    # canonical), as it would on the store; the history answers the same rows.
                    **event_row(event),
                },
            )

    def publish_checkpoint(self, size: int, note: str) -> None:
        """Publish a signed checkpoint note (a witness can record it)."""
        if self._matching["audit"]:
            self._put(checkpoint_key(self.run), {"size": size, "note": note})

    def close(self) -> None:
        """Undeclare everything and close the session. Idempotent."""
        for listener in self._listeners:
            listener.undeclare()
        for publisher in self._publishers.values():
            publisher.undeclare()  # type: ignore[no-untyped-call]  # zenoh stubs
        self._listeners.clear()
        self._publishers.clear()
        self.session.close()  # type: ignore[no-untyped-call]  # zenoh stubs

    def __enter__(self) -> BusPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
