"""The thermostat on each room's wall: turned down when it is warm, back up when it is cool.

A persona in a room warmer than :data:`TOO_WARM_C` turns the dial down one step when the
window cannot help (the room has none, or it is open already); one in a room cooler than
:data:`TOO_COOL_C` whose dial is turned down turns it back up a step. The world applies
the dial as a shift of the room's setpoint (``World.set_thermostat``), so the room
relaxes towards the new temperature over the next minutes. A dial touched is left alone
for :data:`SETTLE_TICKS`, so the room can answer before anyone turns it again (no
flapping), whoever stands next to it.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sentinel.world import World

TOO_WARM_C: Final = 24.0
"""Ours: as the window (``sentinel.agents.days.WINDOW_OPEN_C``), before the fingerprint's
"too warm" at 26 C."""
TOO_COOL_C: Final = 21.5
"""Ours: a turned-down dial goes back up below 21.5 C (the lower end of the 21-24 C comfort
band of office guidelines such as ASR A3.5's 20 C minimum plus a margin)."""
STEP_K: Final = 1.0
"""Ours: one notch of the dial."""
SETTLE_TICKS: Final = 15 * 60
"""Ours: a room's air relaxes with a time constant of minutes; 15 minutes lets it show."""


class Thermostats:
    """The dials of a running world's rooms and when each was last turned."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.turned = np.full(len(world.params.room_ids), -SETTLE_TICKS, dtype=np.int64)

    def adjust(self, room: str, number: int, has_window: bool, tick: int) -> str | None:
        """Turn the dial of ``room`` if its air asks for it; the world action's name, or None."""
        if tick - int(self.turned[number]) < SETTLE_TICKS:
            return None
        s = self.world.state
        temperature = float(s["temperature"][number])
        dial = float(s["thermostat"][number])
        window_helps = has_window and not s["window_open"][number]
        if temperature > TOO_WARM_C and not window_helps and dial > -self.world.thermostat_range:
            self.world.set_thermostat(room, dial - STEP_K)
            self.turned[number] = tick
            return "thermostat_down"
        if temperature < TOO_COOL_C and dial < 0.0:
            self.world.set_thermostat(room, min(0.0, dial + STEP_K))
            self.turned[number] = tick
            return "thermostat_up"
        return None
