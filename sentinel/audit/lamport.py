"""Lamport clocks: causal order across agents and nodes.

Each node's clock ticks on every append and merges on every receive
(``observe(remote)``), so ``a`` happened before ``b`` implies ``lamport(a) < lamport(b)``.
The converse does not hold for clocks alone; :func:`happened_before` decides it exactly from
the log: the same node's program order, or a chain of ``causation_id`` links.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sentinel.audit.events import Event


class LamportClock:
    """A thread-safe Lamport clock.

    Args:
        start: The last value this node issued (0 for a new node).
    """

    def __init__(self, start: int = 0) -> None:
        self._value = start
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """The last value issued or observed."""
        return self._value

    def tick(self, floor: int = 0) -> int:
        """Advance for a local event; never below ``floor + 1``. Returns the new value."""
        with self._lock:
            self._value = max(self._value, floor) + 1
            return self._value

    def observe(self, remote: int) -> int:
        """Merge a timestamp received from another node. Returns the new value."""
        with self._lock:
            self._value = max(self._value, remote)
            return self._value


def happened_before(a: Event, b: Event, lookup: Callable[[str], Event | None]) -> bool:
    """Whether ``a`` causally precedes ``b``.

    True when both come from one node and ``a`` was issued first, or when following ``b``'s
    ``causation_id`` links (resolved by ``lookup``) reaches an event that ``a`` precedes on
    its own node. Lamport values prune the search: nothing before ``a`` can lead to it.
    """
    if a.event_id == b.event_id or a.lamport >= b.lamport:
        return False
    seen: set[str] = set()
    current: Event | None = b
    while current is not None and current.lamport > a.lamport:
        if current.node == a.node:
            return True
        if current.causation_id is None or current.causation_id in seen:
            return False
        seen.add(current.causation_id)
        current = lookup(current.causation_id)
    return current is not None and current.event_id == a.event_id


def concurrent(a: Event, b: Event, lookup: Callable[[str], Event | None]) -> bool:
    """Neither event happened before the other."""
    return not happened_before(a, b, lookup) and not happened_before(b, a, lookup)
