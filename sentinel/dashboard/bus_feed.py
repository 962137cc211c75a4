"""The dashboard's events read from the live bus (Zenoh) instead of the store file.

A :class:`BusFeed` subscribes to ``sentinel/<run>/**`` and keeps every audit event sample
(those with a ``position``; tick summaries and checkpoint notes are skipped) as the row
:class:`~sentinel.dashboard.feed.EventFeed` would read from the store: position, type,
stream, canonical text and the two hashes, which the publisher sends with each event so the
browser checks every chain link as it does for a store. Rows are kept in position order; a
sample that arrives after a higher position was kept is inserted in its place and counted
in ``late`` (a browser that read past it misses it and shows the broken link). Events the
bus did not deliver (published before the subscription matched, or beyond ``max_rows``)
are simply absent: the bus is a live view, the store stays the record.

A dashboard in another process (``sentinel-run dashboard --bus``, :meth:`BusFeed.follow`)
joins a run that is already running: it waits for the run's first sample, then asks the
run's history queryable (:mod:`sentinel.bus.history`, answered from the run's store) for
every committed event it has not heard, and keeps doing so for gaps every second (a key
family's publisher sees a new subscription a moment after another's does); rows filled
from the history are counted in ``filled``, not ``late``.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from sentinel.bus.history import fetch_history
from sentinel.bus.keys import PREFIX, segment
from sentinel.bus.subscriber import BusSample, BusSubscriber
from sentinel.dashboard.feed import BATCH_LIMIT
from sentinel.errors import BusError

if TYPE_CHECKING:
    from sentinel.bus.run_hook import RunBus

MAX_ROWS: Final = 200_000
"""Ours: events kept in memory (~1 KiB each, ~200 MB at most); the oldest go first."""
MATCH_TIMEOUT_S: Final = 10.0
"""How long attaching waits for the run's publishers to see the subscription."""
FILL_INTERVAL_S: Final = 1.0
"""Ours: how often a following feed asks the run's history for positions it has not heard
(a browser that read past a gap before it was filled shows the broken link)."""
POLL_S: Final = 0.02
ROW_KEYS: Final = ("position", "type", "stream", "canonical", "hash", "prev_hash")


class BusFeed:
    """Events of one run as they arrive on the bus; safe to share between threads.

    Empty until :meth:`attach` (a run in this process) or :meth:`connect` (a run elsewhere).

    Args:
        max_rows: The most events kept (the oldest are dropped first).
    """

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.run: str | None = None
        self.late = 0
        """Samples that arrived after a higher position had been kept (as of the last read:
        samples are moved from the subscriber's queue by :meth:`head` and :meth:`read`)."""
        self.skipped = 0
        """Samples that were not audit events (tick summaries, checkpoints) or other runs'
        (as of the last read)."""
        self._rows: list[dict[str, Any]] = []
        self._positions: list[int] = []
        self.filled = 0
        """Events not heard live but fetched from the run's history (:meth:`fill_gaps`)."""
        self._subscriber: BusSubscriber | None = None
        self._lock = threading.Lock()
        self._dropped = False
        self._stop = threading.Event()
        self._filler: threading.Thread | None = None

    def connect(self, endpoint: str, run: str | None = None) -> None:
        """Subscribe on a run's endpoint; without ``run``, follow the first run heard.

        Raises:
            BusError: The session cannot be opened (zenoh missing, bad endpoint).
        """
        key = f"{PREFIX}/{'*' if run is None else segment(run)}/**"
        subscriber = BusSubscriber(key, connect=[endpoint])
        try:
            with self._lock:
                self.run = None if run is None else segment(run)
                self._subscriber = subscriber
        except BaseException:  # Ctrl-C between the two: nobody else would close it
            subscriber.close()
            raise

    def attach(self, live: RunBus, timeout: float = MATCH_TIMEOUT_S) -> None:
        """Subscribe to the run this process is about to run, before its first event.

        Waits until the run's publishers of every key family see the subscription, so no
        event committed afterwards is missed.

        Raises:
            BusError: The bus has no endpoint to connect to, or the subscription was not
                seen within ``timeout`` seconds.
        """
        subscriber = live.subscribe("the dashboard", timeout)
        with self._lock:
            self.run = segment(live.publisher.run)
            self._subscriber = subscriber

    def follow(self, endpoint: str, run: str | None = None, *, wait: float) -> None:
        """Follow a run published in another process, from its first event on.

        Subscribes, waits for the run's first event sample, fills everything before it from
        the run's history, then fills gaps every :data:`FILL_INTERVAL_S` in a thread.

        Raises:
            BusError: The session cannot be opened, nothing was published on ``endpoint``
                within ``wait`` seconds, or the run did not answer its history.
        """
        self.connect(endpoint, run)
        try:
            self._wait_for_first_sample(endpoint, run, wait)
            self.fill_gaps()
        except BaseException:
            # Ctrl-C included: Zenoh delivers samples on a thread the interpreter waits for at
            # exit, which only ends with the subscription.
            self.close()
            raise
        self._filler = threading.Thread(target=self._fill_forever, daemon=True)
        self._filler.start()

    def _wait_for_first_sample(self, endpoint: str, run: str | None, wait: float) -> None:
        deadline = time.monotonic() + wait
        while self.head() == -1:
            if time.monotonic() >= deadline:
                named = "" if run is None else f" for run {run}"
                raise BusError(
                    f"nothing was published on {endpoint}{named} within {wait:g} s: start the"
                    f" run with `sentinel-run run --bus {endpoint}` (or check --run)"
                )
            time.sleep(POLL_S)

    def _fill_forever(self) -> None:
        while not self._stop.wait(FILL_INTERVAL_S):
            try:
                self.fill_gaps()
            except Exception:  # noqa: BLE001 - the run or our session is gone: keep what was heard
                return

    def gaps(self) -> list[tuple[int, int]]:
        """Position ranges ``(first, last)`` below the head that were not heard."""
        with self._lock:
            self._drain()
            found: list[tuple[int, int]] = []
            expected = 0 if not self._dropped else (self._positions[0] if self._positions else 0)
            for position in self._positions:
                if position > expected:
                    found.append((expected, position - 1))
                expected = position + 1
            return found

    def fill_gaps(self) -> int:
        """Fetch every unheard position below the head from the run's history; how many.

        Raises:
            BusError: The run did not answer (gone) or answered with something else.
        """
        subscriber, run = self._subscriber, self.run
        if subscriber is None or run is None:
            return 0
        count = 0
        for first, last in self.gaps():
            after = first - 1
            while after < last and not self._stop.is_set():
                rows = fetch_history(subscriber.session, run, after, min(BATCH_LIMIT, last - after))
                if not rows:
                    break
                with self._lock:
                    for row in rows:
                        count += self._insert(row, live=False)
                after = int(rows[-1]["position"])
        return count

    def _drain(self) -> None:
        """Move every received sample into the rows (the caller holds the lock)."""
        if self._subscriber is None:
            return
        while (sample := self._subscriber.get(timeout=0)) is not None:
            self._keep(sample)

    def _keep(self, sample: BusSample) -> None:
        run = sample.key.split("/", 2)[1]
        if self.run is None:
            self.run = run
        document = sample.document
        if run != self.run or not all(key in document for key in ROW_KEYS):
            self.skipped += 1
            return
        self._insert({key: document[key] for key in ROW_KEYS}, live=True)

    def _insert(self, row: dict[str, Any], *, live: bool) -> int:
        """Keep one row in position order (the caller holds the lock); 1 if new, else 0."""
        position = int(row["position"])
        index = bisect.bisect_left(self._positions, position)
        if index < len(self._positions) and self._positions[index] == position:
            return 0  # a repeat
        if live and index < len(self._positions):
            self.late += 1
        if not live:
            self.filled += 1
        self._positions.insert(index, position)
        self._rows.insert(index, row)
        if len(self._rows) > self.max_rows:
            excess = len(self._rows) - self.max_rows
            del self._rows[:excess]
            del self._positions[:excess]
            self._dropped = True
        return 1

    def head(self) -> int:
        """The highest position received (-1 before the first event)."""
        with self._lock:
            self._drain()
            return self._positions[-1] if self._positions else -1

    def read(self, after: int, limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
        """Up to ``limit`` received events with a position above ``after``, in order."""
        with self._lock:
            self._drain()
            start = bisect.bisect_right(self._positions, after)
            return [dict(row) for row in self._rows[start : start + limit]]

    def close(self) -> None:
        """Close the subscription (the rows stay readable). Idempotent."""
        self._stop.set()
        # The subscription first: a history query the filler waits on then fails at once
        # (the filler ends on it), and a second Ctrl-C during the join cannot leave the
        # subscription open (Zenoh's delivery thread would keep the process alive).
        with self._lock:
            subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            subscriber.close()
        if self._filler is not None and self._filler is not threading.current_thread():
            self._filler.join(timeout=FILL_INTERVAL_S + 15)
