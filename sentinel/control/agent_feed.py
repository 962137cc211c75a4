"""The agent plane's observation of the people, fed from the committed batch (or the bus).

With ``control_feed`` ``committed`` or ``bus`` the agent plane does not read the world
directly. At the end of a tick after which the plane is due, the planes append one
``agent.state`` event to the tick's batch: its observation of every agent on duty (bio,
mood, behaviour: :data:`sentinel.control.agent_plane.AGENT_METRICS`) at that tick. The
batch is committed (hash-chained, signed, published under
``sentinel/<run>/agent/_all/state``); at the next tick the plane observes that state from
the fed batch, so it goes through the same barrier as every other input (a lost or altered
sample is a gap). A state that was published but is absent from the fed batch, or whose
payload does not parse (tick, agents, columns), raises :class:`BusGapError`: the planes
halt, they never decide on it. The run's first tick has no previous state: the plane
observes no one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, NoReturn

import numpy as np

from sentinel.audit import NewEvent
from sentinel.audit.events import Event
from sentinel.control.agent_plane import AGENT_METRICS, observe_agents
from sentinel.control.bus_source import BusGapError
from sentinel.control.observation import Observation
from sentinel.world import World

AGENT_STATE: Final = "agent.state"
"""The event type of the agent plane's published observation."""
STATE_STREAM: Final = "agent"


def state_event(world: World, tick: int) -> NewEvent:
    """The ``agent.state`` event of ``world`` at ``tick``."""
    observation = observe_agents(world, tick)
    return NewEvent(
        STATE_STREAM,
        AGENT_STATE,
        {
            "tick": tick,
            "agents": list(observation.targets),
            "columns": {
                name: [float(v) for v in observation.columns[name]]
                for name in sorted(AGENT_METRICS)
            },
        },
        tick=tick,
    )


def _malformed(message: str) -> NoReturn:
    raise ValueError(message)


def parse_state(payload: dict[str, Any]) -> tuple[int, tuple[str, ...], dict[str, list[float]]]:
    """An ``agent.state`` payload's tick, agents and columns.

    Raises:
        ValueError: A field is missing, of the wrong type, or a column's length or set of
            metrics is not the plane's.
    """
    tick, agents, columns = payload.get("tick"), payload.get("agents"), payload.get("columns")
    if not isinstance(tick, int) or isinstance(tick, bool):
        _malformed(f"agent.state: tick must be an integer, got {tick!r}")
    if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
        _malformed("agent.state: agents must be a list of agent ids")
    if not isinstance(columns, dict) or set(columns) != AGENT_METRICS:
        _malformed(f"agent.state: columns must be exactly {sorted(AGENT_METRICS)}")
    parsed: dict[str, list[float]] = {}
    for name, values in columns.items():
        if not isinstance(values, list) or len(values) != len(agents):
            _malformed(f"agent.state: column {name!r} must hold {len(agents)} values")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            _malformed(f"agent.state: column {name!r} holds a non-number")
        if not all(math.isfinite(v) for v in values):
            _malformed(f"agent.state: column {name!r} holds a non-finite number")
        parsed[name] = [float(v) for v in values]
    return tick, tuple(agents), parsed


class FedAgents:
    """The agent plane's observer in ``committed`` and ``bus`` feeds.

    :meth:`published` notes the tick whose state the planes appended; :meth:`feed` takes
    that state from the next tick's fed batch; calling the observer returns it.
    """

    def __init__(self) -> None:
        self._published: int | None = None
        self._state: tuple[tuple[str, ...], dict[str, list[float]]] | None = None

    def published(self, tick: int) -> None:
        """The planes appended the state of ``tick`` to its batch."""
        self._published = tick

    def feed(self, tick: int, batch: Sequence[Event]) -> None:
        """Take the state published for ``tick - 1`` from the fed ``batch``.

        Raises:
            BusGapError: It was published and is not in the batch, or does not parse.
        """
        self._state = None
        expected, self._published = self._published, None
        if expected is None or expected != tick - 1:
            return
        first = batch[0].position if batch else -1
        last = batch[-1].position if batch else -1
        found = [e for e in batch if e.type == AGENT_STATE]
        if not found:
            raise BusGapError(
                f"the agent state of tick {expected} is not in the committed batch",
                first=first, last=last, missing=[], corrupt=[],
            )  # fmt: skip
        event = found[-1]
        try:
            state_tick, agents, columns = parse_state(dict(event.payload))
            if state_tick != expected:
                _malformed(f"agent.state: tick {state_tick}, expected {expected}")
        except ValueError as exc:
            raise BusGapError(
                f"the agent state at position {event.position} does not parse: {exc}",
                first=first, last=last, missing=[], corrupt=[event.position],
            ) from exc  # fmt: skip
        self._state = (agents, columns)

    def __call__(self, tick: int) -> Observation:
        """The fed state (observed at ``tick``; nobody before the first state)."""
        agents, columns = self._state if self._state is not None else ((), {})
        return Observation(
            "agent",
            tick,
            agents,
            {
                name: np.array(columns.get(name, []), dtype=np.float64)
                for name in sorted(AGENT_METRICS)
            },
        )
