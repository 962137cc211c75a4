"""The office world: a company's agents and rooms as SoA component arrays, stepped in ticks.

A :class:`World` owns the state (numpy arrays, see :mod:`sentinel.world.layout`) and the
parameters derived from the company's configuration. ``step(n)`` runs ``n`` ticks in one
call of the chosen backend: ``native`` (the Rust systems, GIL released), ``reference`` (the
numpy systems) or ``oracle`` (the esper systems). All three produce the same state, bit for
bit, which :meth:`World.state_hash` proves.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from sentinel.config.company import Company
from sentinel.errors import InvalidInputError
from sentinel.world import reference
from sentinel.world.layout import (
    EMPTY_PRIORITY,
    PERCEPTION_CHANNELS,
    Action,
    Emotion,
    Reason,
    Stat,
)
from sentinel.world.params import WorldParams, build_params, decibels
from sentinel.world.perception import describe
from sentinel.world.state import State, copy_state, new_state, state_hash

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

Backend = Literal["native", "reference", "oracle"]
BACKENDS: Final = ("native", "reference", "oracle")
THERMOSTAT_RANGE_K: Final = 4.0
"""Ours: an office thermostat's dial moves the setpoint at most 4 K either way (typical
room controllers offer +-3 to +-5 K around the central setpoint)."""
ALWAYS_ON_SHARE: Final = 9 / 60
"""Synthetic worlds staff shift set 0 like the default company (9 of 60)."""
_ROOM_NOT_PLACED = "(in transit)"


def peak_on_duty(shift_sets: npt.NDArray[np.uint8], shifts: int) -> int:
    """The most agents on duty at once: one shift set plus the always-on set 0."""
    counts = np.bincount(shift_sets, minlength=shifts + 1)
    return int(counts[0] + (counts[1:].max() if shifts else 0))


class World:
    """A running office world.

    Args:
        company: The validated company (personas, floor plan, simulation).
        seed: Overrides the simulation's seed.
        agents: Agent count of a synthetic world; ``None`` uses the company's personas.

    Raises:
        InvalidInputError: ``agents`` is not positive.
    """

    def __init__(
        self, company: Company, *, seed: int | None = None, agents: int | None = None
    ) -> None:
        self.company = company
        self.seed = company.simulation.seed if seed is None else seed
        count = len(company.personas) if agents is None else agents
        if count < 1:
            raise InvalidInputError(f"a world needs at least one agent, got {count}")
        plan = company.floor_plan
        state = new_state(
            count,
            len(plan.rooms),
            len(company.simulation.chaos),
            company.simulation.decisions.queue_size,
            self.seed,
        )
        if agents is None:
            self.agent_ids = tuple(p.id for p in company.personas)
            self.names = tuple(p.identity.name for p in company.personas)
            personas = company.personas
            state["extraversion"][:] = [p.personality.extraversion for p in personas]
            state["neuroticism"][:] = [p.personality.neuroticism for p in personas]
            state["caffeine_tolerance"][:] = [p.personality.caffeine_tolerance for p in personas]
            state["morning_person"][:] = [p.personality.morning_person for p in personas]
            state["shift_set"][:] = [p.identity.shift_set for p in personas]
        else:
            rng = np.random.default_rng(self.seed % 2**64)
            width = len(str(count))
            self.agent_ids = tuple(f"SYN-{n:0{width}d}" for n in range(1, count + 1))
            self.names = self.agent_ids
            for column in ("extraversion", "neuroticism", "caffeine_tolerance"):
                state[column][:] = np.round(rng.uniform(0.05, 0.95, count), 2)
            state["morning_person"][:] = rng.integers(0, 2, count)
            sets = len(company.simulation.shifts)
            always = rng.random(count) < ALWAYS_ON_SHARE
            state["shift_set"][:] = np.where(always, 0, rng.integers(1, sets + 1, count))
        sim = company.simulation
        self.peak_on_duty = peak_on_duty(state["shift_set"], len(sim.shifts))
        plan, self.building_scale = plan.sized_for(self.peak_on_duty)
        # The company's plan, or every room larger when more agents are on duty at once
        # than its rooms hold (reported as building_scale; never a silent overcrowding).
        self.floor_plan = plan
        self.params: WorldParams = build_params(sim, plan)
        state["temperature"][:] = sim.physics.base_temperature
        state["co2"][:] = sim.physics.co2_outdoor_ppm
        state["noise"][:] = self.params.scalar("ambient_power")
        self._state = state
        self._index = {agent_id: n for n, agent_id in enumerate(self.agent_ids)}
        self._rooms = plan.index()

    # -- running -----------------------------------------------------------------------

    def step(self, ticks: int = 1, *, backend: Backend = "native") -> None:
        """Advance ``ticks`` ticks (every system, in phase order) in one backend call.

        Raises:
            InvalidInputError: ``ticks`` is negative or the backend is unknown.
        """
        if ticks < 0:
            raise InvalidInputError(f"ticks must be >= 0, got {ticks}")
        if backend == "native":
            from sentinel import _native  # noqa: PLC0415 - keeps the import graph acyclic

            _native.world_step(self._state, self.params.tables, self.params.scalars, ticks)
        elif backend == "reference":
            reference.step(self._state, self.params, ticks)
        elif backend == "oracle":
            from sentinel.world import oracle  # noqa: PLC0415 - esper only when asked

            oracle.step(self._state, self.params, ticks)
        else:
            raise InvalidInputError(f"unknown backend {backend!r}; use one of {BACKENDS}")

    # -- inputs (applied by the next tick's input phase) ---------------------------------

    def _agent(self, agent: str | int) -> int:
        if isinstance(agent, int):
            if not 0 <= agent < len(self.agent_ids):
                raise InvalidInputError(f"agent number {agent} is out of range")
            return agent
        try:
            return self._index[agent]
        except KeyError:
            raise InvalidInputError(f"unknown agent {agent!r}") from None

    def move(self, agent: str | int, room: str) -> None:
        """Order ``agent`` to walk to ``room`` (shortest route, 20 s per hop).

        Raises:
            InvalidInputError: Unknown agent or room.
        """
        if room not in self._rooms:
            raise InvalidInputError(f"unknown room {room!r}")
        self._state["move_order"][self._agent(agent)] = self._rooms[room]

    def act(self, agent: str | int, action: Action) -> None:
        """Ask ``agent`` to drink a coffee, eat or use the bathroom (refused in a wrong room)."""
        self._state["pending"][self._agent(agent)] = int(action)

    def set_flags(
        self, agent: str | int, *, deadline: bool | None = None, conflict: bool | None = None
    ) -> None:
        """Set the stress inputs the simulation cannot see (a deadline, a conflict)."""
        index = self._agent(agent)
        if deadline is not None:
            self._state["deadline"][index] = int(deadline)
        if conflict is not None:
            self._state["conflict"][index] = int(conflict)

    def delay_arrival(self, agent: str | int, ticks: int) -> None:
        """Keep ``agent`` outside for ``ticks`` more ticks once its shift is on.

        Until then it is in no room: it counts in no head count, heat or CO2, and it is not
        on duty. The input phase counts the delay down only while the agent's shift is on.

        Raises:
            InvalidInputError: Unknown agent, or ``ticks`` negative or beyond int32.
        """
        if not 0 <= ticks < 2**31:
            raise InvalidInputError(f"an arrival delay must be 0..2**31-1 ticks, got {ticks}")
        self._state["arrival_left"][self._agent(agent)] = ticks

    def feel(self, agent: str | int, valence: float = 0.0, arousal: float = 0.0) -> None:
        """Add an event's mood impulse to ``agent`` (it fades with the mood's half-life).

        The mood phase adds the impulses to the valence and arousal its body gives, then
        lets them fade (:data:`~sentinel.world.params.MOOD_IMPULSE_HALF_LIFE_MINUTES`).
        Each impulse is kept within -1..1.

        Raises:
            InvalidInputError: Unknown agent or a value that is not a finite number.
        """
        if not (math.isfinite(valence) and math.isfinite(arousal)):
            raise InvalidInputError(f"a mood impulse must be finite, got {valence}, {arousal}")
        index = self._agent(agent)
        for name, value in (("valence_impulse", valence), ("arousal_impulse", arousal)):
            now = float(self._state[name][index]) + float(value)
            self._state[name][index] = min(1.0, max(-1.0, now))

    def open_window(self, room: str, is_open: bool = True) -> None:
        """Open or close the windows of ``room``."""
        if room not in self._rooms:
            raise InvalidInputError(f"unknown room {room!r}")
        self._state["window_open"][self._rooms[room]] = int(is_open)

    def open_door(self, room: str, is_open: bool = True) -> bool:
        """Open or close the door of ``room``.

        A closed door damps the noise leaking between the room and its neighbours by
        ``physics.door_closed_attenuation_db``. Corridors and the stairwell have no door of
        their own (:data:`~sentinel.world.params.DOORLESS_KINDS`): for them nothing changes.

        Returns:
            Whether the room has a door (and so whether anything changed).

        Raises:
            InvalidInputError: ``room`` is unknown.
        """
        if room not in self._rooms:
            raise InvalidInputError(f"unknown room {room!r}")
        number = self._rooms[room]
        if not self.params.tables["room_door"][number]:
            return False
        self._state["door_closed"][number] = int(not is_open)
        return True

    def set_thermostat(self, room: str, offset_k: float) -> float:
        """Set the thermostat of ``room`` to ``offset_k`` kelvin from the building setpoint.

        The room's temperature relaxes towards the shifted setpoint from the next tick on.
        The offset is clamped to :data:`THERMOSTAT_RANGE_K` either way (what an office
        thermostat's dial allows).

        Returns:
            The offset in force (after clamping).

        Raises:
            InvalidInputError: ``room`` is unknown or ``offset_k`` is not a finite number.
        """
        if room not in self._rooms:
            raise InvalidInputError(f"unknown room {room!r}")
        if not math.isfinite(offset_k):
            raise InvalidInputError(f"the thermostat offset must be finite, got {offset_k}")
        offset = min(self.thermostat_range, max(-self.thermostat_range, float(offset_k)))
        self._state["thermostat"][self._rooms[room]] = offset
        return offset

    thermostat_range: float = THERMOSTAT_RANGE_K
    """How far the thermostat's dial goes either way, in kelvin."""

    # -- reading -------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The component arrays (live: writes change the world)."""
        return self._state

    @property
    def tick(self) -> int:
        """Ticks run so far."""
        return int(self._state["tick"][0])

    def clock(self) -> str:
        """The simulated time of day, ``HH:MM``."""
        minute, _ = reference.clock(self._state, self.params)
        return f"{minute // 60:02d}:{minute % 60:02d}"

    def state_hash(self) -> str:
        """SHA-256 of the canonical state (see :mod:`sentinel.world.state`)."""
        return state_hash(self._state)

    def snapshot(self) -> State:
        """A deep copy of the state."""
        return copy_state(self._state)

    def stats(self) -> dict[str, int]:
        """Counters since the start (spawns, arrivals, actions, chaos, decisions)."""
        return {stat.name.lower(): int(self._state["stats"][stat]) for stat in Stat}

    def decisions(self, agent: str | int) -> list[tuple[int, str, int]]:
        """The decision queue of ``agent``: (priority, reason, ticks to live), urgent first."""
        index = self._agent(agent)
        entries = []
        for slot in range(self.params.queue_size):
            priority = int(self._state["queue_priority"][index, slot])
            if priority == EMPTY_PRIORITY:
                continue
            code = int(self._state["queue_reason"][index, slot])
            if code >= Reason.CHAOS_BASE:
                text = f"chaos:{self.params.chaos_names[code - Reason.CHAOS_BASE]}"
            else:
                text = Reason(code).name.lower()
            entries.append((priority, text, int(self._state["queue_ttl"][index, slot])))
        return sorted(entries)

    def _columns(self) -> dict[str, Sequence[object] | npt.NDArray[np.generic]]:
        s = self._state
        # Index -1 (in transit) picks the marker, index R + 1 (off duty / none) picks None.
        room_names = np.array([*self.params.room_ids, None, _ROOM_NOT_PLACED], dtype=object)
        off = len(self.params.room_ids)
        emotions = np.array([e.name.lower() for e in Emotion], dtype=object)
        return {
            "id": list(self.agent_ids),
            "name": list(self.names),
            "shift_set": s["shift_set"],
            "active": s["active"].astype(bool),
            "room": room_names[np.where(s["active"] == 1, s["room"], off)],
            "destination": room_names[np.where(s["destination"] >= 0, s["destination"], off)],
            "hunger": s["hunger"],
            "energy": s["energy"],
            "bladder": s["bladder"],
            "stress": s["stress"],
            "social": s["social"],
            "caffeine_mg": s["caffeine"],
            "valence": s["valence"],
            "arousal": s["arousal"],
            "emotion": emotions[s["emotion"]],
            "chatting": s["chat_left"] > 0,
            "queued": (s["queue_priority"] != EMPTY_PRIORITY).sum(axis=1),
        }

    @property
    def agents(self) -> pd.DataFrame:
        """One row per agent: identity, room, needs, mood, queue length (a copy)."""
        import pandas as pd  # noqa: PLC0415 - pandas is heavy; notebooks pay for it

        return pd.DataFrame({k: np.asarray(v).copy() for k, v in self._columns().items()})

    def agents_arrow(self) -> pa.Table:
        """The :attr:`agents` table as a pyarrow Table."""
        import pyarrow as pa  # noqa: PLC0415 - imported where used

        return pa.table({k: np.asarray(v) for k, v in self._columns().items()})

    @property
    def rooms(self) -> pd.DataFrame:
        """One row per room: head count, noise (dB), temperature, CO2, active chaos."""
        import pandas as pd  # noqa: PLC0415 - see agents

        s = self._state
        chaos: list[list[str]] = [[] for _ in self.params.room_ids]
        for kind, name in enumerate(self.params.chaos_names):
            if s["chaos_left"][kind] > 0 and s["chaos_room"][kind] >= 0:
                chaos[int(s["chaos_room"][kind])].append(name)
        return pd.DataFrame(
            {
                "room": list(self.params.room_ids),
                "occupancy": s["occupancy"].copy(),
                "noise_db": np.round(decibels(s["noise"]), 1),
                "temperature": np.round(s["temperature"], 2),
                "co2_ppm": np.round(s["co2"], 0),
                "chaos": [", ".join(names) for names in chaos],
            }
        )

    def perception(self, agent: str | int) -> str:
        """What ``agent`` notices about its body and room, in English."""
        index = self._agent(agent)
        if not self._state["active"][index]:
            return "off duty"
        return describe([int(b) for b in self._state["perception"][index]]) or "nothing special"

    def __repr__(self) -> str:
        on = int(self._state["active"].sum())
        return (
            f"<World tick={self.tick} {self.clock()} agents={len(self.agent_ids)} "
            f"on_duty={on} rooms={len(self.params.room_ids)} seed={self.seed} "
            f"hash={self.state_hash()[:12]}>"
        )

    def _repr_html_(self) -> str:
        rooms = self.rooms
        busy = rooms[rooms["occupancy"] > 0]
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row) + "</tr>"
            for row in busy.itertuples(index=False)
        )
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rooms.columns)
        return (
            f"<div><strong>World</strong> tick {self.tick}, {self.clock()}, "
            f"{int(self._state['active'].sum())} of {len(self.agent_ids)} agents on duty, "
            f"state <code>{self.state_hash()[:16]}</code>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )


__all__ = ["BACKENDS", "PERCEPTION_CHANNELS", "Action", "Backend", "World"]
