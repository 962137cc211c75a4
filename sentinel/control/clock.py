"""The control planes' clock: simulation ticks, advanced by whoever drives the loops.

The planes never read wall time: the runtime sets the tick each world step, tests advance
it by hand, and a replay sets it from the recorded decisions. No sleeps anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VirtualClock:
    """A tick counter the driver advances.

    Args:
        tick: The current tick.
    """

    tick: int = 0

    def advance(self, ticks: int = 1) -> int:
        """Move forward ``ticks`` ticks and return the new tick."""
        self.tick += ticks
        return self.tick
