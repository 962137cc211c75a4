"""The main job's hook: a run's committed events and tick summaries, published on the bus."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sentinel.bus.history import HistoryQueryable
from sentinel.bus.keys import KEY_FAMILIES, PREFIX, segment
from sentinel.bus.subscriber import BusSubscriber
from sentinel.errors import BusError

if TYPE_CHECKING:
    from sentinel.agents.runtime import Engine
    from sentinel.audit.store import AuditStore
    from sentinel.bus.publisher import BusPublisher

log = logging.getLogger(__name__)


class RunBus:
    """A publisher tied to one run's store: events as committed, a summary per tick.

    Also answers the committed history to a subscriber that joins late
    (:mod:`sentinel.bus.history`).
    """

    def __init__(self, publisher: BusPublisher, store: AuditStore) -> None:
        self.publisher = publisher
        self.store = store
        self.history = HistoryQueryable(publisher.session, publisher.run, store)
        store.commit_listeners.append(publisher.publish_events)

    def subscribe(self, who: str, timeout: float) -> BusSubscriber:
        """A subscription to this run's events, seen by every key family's publisher.

        Made before the run's first event, it misses none of them.

        Args:
            who: The subscriber, as error messages name it ("the dashboard").
            timeout: How long to wait for the publishers to see the subscription.

        Raises:
            BusError: The bus listens on no endpoint, the session cannot open, or the
                publishers did not see the subscription within ``timeout`` seconds.
        """
        publisher = self.publisher
        if not publisher.listen:
            raise BusError(f"the run's bus listens on no endpoint: {who} cannot subscribe")
        subscriber = BusSubscriber(
            f"{PREFIX}/{segment(publisher.run)}/**", connect=[publisher.listen[0]]
        )
        if not publisher.wait_listening(KEY_FAMILIES, timeout):
            subscriber.close()
            raise BusError(
                f"{who}'s subscription on {publisher.listen[0]} was not seen by the run's"
                f" publishers within {timeout:g} s"
            )
        return subscriber

    def tick_hook(self, engine: Engine) -> None:
        """After a tick: its summary, computed only when someone watches ``world``."""
        if not self.publisher.listening("world"):
            return
        active = engine.world.state["active"]
        self.publisher.publish_tick(
            engine.world.tick,
            {
                "clock": engine.world.clock(),
                "on_duty": int(active.sum()),
                "agents": len(engine.agents),
            },
        )

    def close(self) -> None:
        """Publish the final checkpoint and close the session."""
        try:
            latest = self.store.latest_checkpoint()
            if latest is not None:
                self.publisher.publish_checkpoint(latest.checkpoint.size, latest.to_note())
        finally:
            self.history.close()
            self.publisher.close()


def open_run_bus(
    endpoint: str | None, store: AuditStore, *, required: bool = False
) -> RunBus | None:
    """The run's bus on ``endpoint`` (listening), or None: no endpoint, or it failed (logged).

    Args:
        endpoint: Where the run's session listens; None or empty: no bus.
        store: The run's store (its log id is the run's key segment).
        required: Something reads the run from the bus (the bus-fed dashboard): a bus that
            cannot open, or no endpoint, is an error instead of a warning.

    Raises:
        BusError: ``required`` and the bus cannot open.
    """
    if not endpoint:
        if required:
            raise BusError("reading the run from the bus needs a bus endpoint (--bus)")
        return None
    from sentinel.bus.publisher import BusPublisher  # noqa: PLC0415 - zenoh only when asked

    try:
        publisher = BusPublisher(store.meta()["log_id"], listen=[endpoint])
    except BusError as exc:
        if required:
            raise
        log.warning("the run goes on without its live bus: %s", exc)
        return None
    return RunBus(publisher, store)
