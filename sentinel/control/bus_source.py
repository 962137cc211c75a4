"""The control planes' events read from the live bus, behind a barrier at each tick.

In ``control_feed = "bus"`` runs the planes at tick T observe the events the engine
committed at the end of tick T-1 (:class:`CommittedEvents`), as they arrive on the run's
bus rather than from the engine's memory. The engine knows that batch's positions and the
hash of its last event (the store returned them); :meth:`BusEvents.barrier` waits until
every one of those positions has been received, then checks each sample's evidence: its
hash is SHA-256(prev_hash || canonical), each links to the one before, and the last one's
hash is the one the store committed. Only then are the events decoded from their canonical
bytes and fed to the planes. A position that does not arrive within the timeout, or a
sample that does not check, raises :class:`BusGapError`: the planes never decide on an
incomplete or altered input (the office stops them and records a ``control.bus_gap``).

Why T-1 and not T: the engine runs the planes before it commits the tick's batch (their
decisions are part of it), so tick T's events cannot be on the bus when the planes of tick
T look. Observing the previous tick's committed batch is the ordering that needs no
re-entrant commit and is a pure function of the run: ``control_feed = "committed"`` feeds
the same batches from memory, and a bus-fed run decides exactly as it does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from sentinel.audit import NewEvent
from sentinel.audit.chain import link_hash
from sentinel.audit.events import Event
from sentinel.bus.subscriber import BusSubscriber
from sentinel.errors import BusError

if TYPE_CHECKING:
    from sentinel.bus.run_hook import RunBus

BARRIER_TIMEOUT_S: Final = 10.0
"""Ours: how long the planes wait for a committed batch on loopback (received within
milliseconds; ten seconds is a stall on a loaded 2-core machine, not jitter)."""
MATCH_TIMEOUT_S: Final = 10.0
"""How long attaching waits for the run's publishers to see the subscription."""
LISTED: Final = 100
"""Positions named in an error and in the ``control.bus_gap`` event, at most."""


class BusGapError(BusError):
    """A committed batch did not arrive whole and intact within the barrier's timeout."""

    def __init__(
        self, message: str, *, first: int, last: int, missing: list[int], corrupt: list[int]
    ) -> None:
        super().__init__(message)
        self.first, self.last = first, last
        self.missing, self.corrupt = missing, corrupt


class BusEvents:
    """A run's committed events as received on its bus, read batch by batch.

    Args:
        timeout: How long :meth:`barrier` waits for a batch (default
            :data:`BARRIER_TIMEOUT_S`).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = BARRIER_TIMEOUT_S if timeout is None else timeout
        self.received = 0
        """Event samples received."""
        self.waited_s = 0.0
        """Wall time spent in barriers (the cost of reading from the bus)."""
        self._samples: dict[int, dict[str, Any]] = {}
        self._subscriber: BusSubscriber | None = None

    def attach(self, live: RunBus, timeout: float = MATCH_TIMEOUT_S) -> None:
        """Subscribe to the run's events before its first one.

        Raises:
            BusError: The bus listens on no endpoint, the session cannot open, or the run's
                publishers did not see the subscription within ``timeout`` seconds.
        """
        self._subscriber = live.subscribe("the control planes", timeout)

    def _receive(self, wait: float) -> int | None:
        """Keep the next sample; its position (-1: not an event), None when none came."""
        if self._subscriber is None:
            return None
        sample = self._subscriber.get(timeout=max(wait, 0.0))
        if sample is None:
            return None
        document = sample.document
        position = document.get("position")
        if not isinstance(position, int):
            return -1
        self.received += 1
        self._samples[position] = document
        return position

    def barrier(self, first: int, last: int, last_hash: bytes) -> list[Event]:
        """The committed events ``first..last``, once all are received and check.

        Args:
            first: The batch's first position.
            last: Its last position.
            last_hash: The hash the store committed for ``last``.

        Raises:
            BusGapError: A position did not arrive within the timeout, or a sample's
                hash, link or bytes do not check (nothing of the batch is returned).
        """
        started = time.monotonic()
        deadline = started + self.timeout
        wanted = range(first, last + 1)
        waiting = {p for p in wanted if p not in self._samples}
        try:
            while waiting:
                position = self._receive(deadline - time.monotonic())
                if position is None and time.monotonic() >= deadline:
                    break
                waiting.discard(position if position is not None else -1)
            while self._receive(0) is not None:  # what is queued already: nothing left behind
                pass
        finally:
            self.waited_s += time.monotonic() - started
        missing = [p for p in wanted if p not in self._samples]
        events: list[Event] = []
        corrupt: list[int] = []
        previous: bytes | None = None
        for position in wanted:
            document = self._samples.get(position)
            if document is None:
                previous = None
                continue
            event = _checked(document, previous)
            if event is None:
                corrupt.append(position)
                previous = None
                continue
            events.append(event)
            previous = event.hash
        if not missing and not corrupt and events[-1].hash != last_hash:
            corrupt.append(last)
        for position in [p for p in self._samples if p <= last]:
            del self._samples[position]  # this batch, and events of no batch (gateway, probes)
        if missing or corrupt:
            raise BusGapError(
                f"the control planes' input, positions {first}-{last}, did not arrive whole on"
                f" the bus within {self.timeout:g} s: missing {missing[:LISTED]}, not checking"
                f" {corrupt[:LISTED]}",
                first=first, last=last, missing=missing, corrupt=corrupt,
            )  # fmt: skip
        return events

    def close(self) -> None:
        """Close the subscription. Idempotent."""
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            subscriber.close()


def _checked(document: dict[str, Any], previous: bytes | None) -> Event | None:
    """The event of a sample whose evidence checks, else None.

    Its hash is SHA-256(prev_hash || canonical); its prev_hash is ``previous`` (the hash of
    the position before, when that was checked); its canonical document is the event.
    """
    try:
        canonical = str(document["canonical"]).encode("utf-8")
        digest = bytes.fromhex(str(document["hash"]))
        prev = bytes.fromhex(str(document["prev_hash"]))
        if link_hash(prev, canonical) != digest or (previous is not None and prev != previous):
            return None
        event = Event.from_canonical(canonical, digest)
    except (KeyError, ValueError, TypeError):
        return None
    if event.prev_hash != prev or event.position != document.get("position"):
        return None
    return event


class CommittedEvents:
    """The planes' input in ``committed`` and ``bus`` feeds: the previous tick's batch.

    Args:
        bus: Read each batch from the bus behind a barrier (None: from memory).
    """

    def __init__(self, bus: BusEvents | None = None) -> None:
        self.bus = bus
        self._batch: list[Event] = []
        self.taken: list[Event] = []
        """The batch of the last :meth:`take` (as received: checked, with its positions)."""

    def committed(self, stored: Sequence[Event]) -> None:
        """The batch the engine just committed (what the next tick's planes observe)."""
        self._batch = list(stored)

    def take(self) -> list[NewEvent]:
        """The previous tick's committed batch, once (from the bus: after its barrier).

        Raises:
            BusGapError: Read from the bus, and the batch did not arrive whole and intact.
        """
        batch, self._batch = self._batch, []
        self.taken = []
        if self.bus is not None and batch:
            batch = self.bus.barrier(batch[0].position, batch[-1].position, batch[-1].hash)
        self.taken = batch
        return [NewEvent(e.stream, e.type, e.payload, tick=e.tick) for e in batch]

    def close(self) -> None:
        """Close the bus subscription, if any."""
        if self.bus is not None:
            self.bus.close()


def gap_payload(error: BusGapError, tick: int, waited_s: float) -> dict[str, Any]:
    """The ``control.bus_gap`` payload of a failed barrier."""
    return {
        "tick": tick,
        "first": error.first,
        "last": error.last,
        "missing": error.missing[:LISTED],
        "corrupt": error.corrupt[:LISTED],
        "waited_s": round(waited_s, 6),
        "reason": str(error),
    }
