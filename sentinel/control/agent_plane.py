"""The agent plane: observes the people (bio, mood, meetings) and intervenes in their day.

Observation: per agent on duty its hunger, energy, bladder, stress, social need and mood
valence (the world's 0-100 and -1..1 scales), whether it sits in a meeting, how many
stressed agents share its room, and its deadline flag. Interventions change the world and
the day plans for real, each with an inverse for rollback: a walk to the kitchen for a
meal or a coffee, to the bathroom, to the break room; a lowered workload (deadline and
conflict lifted, no new ticket for a while); a meeting moved later for all its attendees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

import numpy as np

from sentinel.agents.days import BATHROOM_TICKS, COFFEE_TICKS, MEAL_TICKS, OfficeDays
from sentinel.agents.places import GENERIC_KINDS, Places
from sentinel.control.actuator import Actuator, ActuatorError, Command
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import Observation
from sentinel.world import Action, World
from sentinel.world.layout import RoomCode

STRESSED: Final = 68.0
"""A stress of 68 counts toward a room's stress cluster (the reference's cluster rule)."""
AGENT_METRICS: Final = frozenset(
    {"hunger", "energy", "bladder", "stress", "social", "valence", "in_meeting",
     "room_stressed", "deadline"}
)  # fmt: skip
"""What the agent plane observes per agent on duty."""
DEFAULT_STAY_TICKS: Final = 600


class HasNextTask(Protocol):
    """The runtime's per-agent state: when its next work ticket is due."""

    next_task: int


def observe_agents(world: World, tick: int) -> Observation:
    """The agent plane's observation of ``world`` (agents on duty, in index order)."""
    s = world.state
    on = np.flatnonzero(s["active"].astype(bool))
    room = s["room"][on]
    placed = room >= 0
    safe_room = np.where(placed, room, 0)
    code = world.params.tables["room_code"][safe_room]
    occupancy = s["occupancy"][safe_room]
    in_meeting = placed & (code == RoomCode.MEETING) & (occupancy >= 2)  # the world's own test
    stress = s["stress"][on]
    stressed = placed & (stress >= STRESSED)
    per_room = np.bincount(room[stressed], minlength=len(s["occupancy"]))
    room_stressed = np.where(placed, per_room[safe_room], 0)
    columns = {
        "hunger": s["hunger"][on].astype(np.float64),
        "energy": s["energy"][on].astype(np.float64),
        "bladder": s["bladder"][on].astype(np.float64),
        "stress": stress.astype(np.float64),
        "social": s["social"][on].astype(np.float64),
        "valence": s["valence"][on].astype(np.float64),
        "in_meeting": in_meeting.astype(np.float64),
        "room_stressed": room_stressed.astype(np.float64),
        "deadline": s["deadline"][on].astype(np.float64),
    }
    ids = world.agent_ids
    return Observation("agent", tick, tuple(ids[int(n)] for n in on), columns)


@dataclass(frozen=True)
class _Errand:
    place: str
    """A generic place (``kitchen``, ``bathroom``, ``break_room``)."""
    action: Action | None
    stay_ticks: int


ERRANDS: Final = {
    "enforce_lunch": _Errand("kitchen", Action.MEAL, MEAL_TICKS),
    "coffee_break": _Errand("kitchen", Action.COFFEE, COFFEE_TICKS),
    "send_to_bathroom": _Errand("bathroom", Action.RELIEVE, BATHROOM_TICKS),
    "send_to_break_room": _Errand("break_room", None, DEFAULT_STAY_TICKS),
}
"""Interventions that walk an agent somewhere (and what it does there)."""


class AgentActuator(Actuator):
    """Acts on the office world and the day plans (and nothing else).

    Args:
        world: The running world.
        days: The day planner (its plans say where agents go next).
        places: Resolves generic places to the company's rooms.
        workload: The runtime's per-agent state (``next_task``), by agent id.
        clock: The virtual clock.
    """

    plane: ClassVar[str] = "agent"
    actions: ClassVar[frozenset[str]] = frozenset({*ERRANDS, "lower_workload", "move_meeting"})

    def __init__(
        self,
        world: World,
        days: OfficeDays,
        places: Places,
        workload: Mapping[str, HasNextTask],
        clock: VirtualClock,
    ) -> None:
        super().__init__()
        self._world = world
        self._days = days
        self._places = places
        self._workload = workload
        self._clock = clock
        self._undo: dict[str, tuple[object, ...]] = {}
        self._moved: dict[tuple[int, int, str], tuple[int, int, str]] = {}

    def _here(self, agent_id: str) -> str:
        plan = self._days.plans.get(agent_id)
        if plan is None:
            raise ActuatorError(f"{agent_id} is not on duty")
        room = int(self._world.state["room"][plan.index])
        if room < 0 or self._world.state["destination"][plan.index] >= 0:
            raise ActuatorError(f"{agent_id} is walking")
        return self._world.params.room_ids[room]

    def apply(self, command: Command) -> str:
        """Walk, lower the workload or move the meeting (see the module docstring).

        Raises:
            ActuatorError: The agent is off duty or walking, the room is full, there is no
                meeting to move.
        """
        agent_id, tick = command.target, self._clock.tick
        if command.action in ERRANDS:
            errand = ERRANDS[command.action]
            here = self._here(agent_id)
            kind = GENERIC_KINDS.get(errand.place, errand.place)
            room = self._days._room_for(kind, here)
            if room is None:
                fallback = self._places.resolve(agent_id, errand.place, here)
                raise ActuatorError(f"every {kind} is full" if fallback else f"no {kind}")
            plan = self._days.plans[agent_id]
            self._undo[command.key] = (here, plan.busy_until)
            stay = int(command.params.get("stay_ticks", errand.stay_ticks))
            if room == here:
                if errand.action is not None:
                    plan.errand = (room, errand.action)
                    self._world.act(plan.index, errand.action)
            elif not self._days.move_for_answer(agent_id, room, errand.action):
                del self._undo[command.key]
                raise ActuatorError(f"{room} is full")
            plan.busy_until = tick + stay + self._days._walk(here, room)
            return f"{agent_id}: {here} -> {room} ({command.action})"
        if command.action == "lower_workload":
            return self._lower(command, agent_id, tick)
        return self._move_meeting(command, agent_id, tick)

    def _lower(self, command: Command, agent_id: str, tick: int) -> str:
        state = self._workload.get(agent_id)
        plan = self._days.plans.get(agent_id)
        if state is None or plan is None:
            raise ActuatorError(f"{agent_id} is not on duty")
        s = self._world.state
        self._undo[command.key] = (
            state.next_task, int(s["deadline"][plan.index]), int(s["conflict"][plan.index])
        )  # fmt: skip
        hold = int(command.params.get("hold_ticks", 3600))
        state.next_task = max(state.next_task, tick + hold)
        self._world.set_flags(plan.index, deadline=False, conflict=False)
        return f"{agent_id}: deadline and conflict lifted, next ticket at tick {state.next_task}"

    def _move_meeting(self, command: Command, agent_id: str, tick: int) -> str:
        plan = self._days.plans.get(agent_id)
        if plan is None:
            raise ActuatorError(f"{agent_id} is not on duty")
        meeting = next((m for m in plan.meetings if m[0] <= tick < m[1]), None)
        if meeting is None:
            for new, old in self._moved.items():
                if new in plan.meetings and old[0] <= tick < old[1]:
                    return f"the meeting in {old[2]} was moved already (to tick {new[0]})"
            raise ActuatorError(f"{agent_id} is in no meeting")
        delay = int(command.params.get("delay_ticks", 1800))
        moved = (tick + delay, tick + delay + (meeting[1] - tick), meeting[2])
        attendees = self._replace(meeting, moved, tick)
        self._moved[moved] = meeting
        self._undo[command.key] = (meeting, moved)
        return f"meeting in {meeting[2]} moved to tick {moved[0]} for {attendees} attendees"

    def _replace(self, old: tuple[int, int, str], new: tuple[int, int, str], tick: int) -> int:
        count = 0
        for plan in self._days.plans.values():
            if old in plan.meetings:
                plan.meetings = [new if m == old else m for m in plan.meetings]
                plan.busy_until = min(plan.busy_until, tick)  # back to the plan next minute
                count += 1
        return count

    def revert(self, command: Command) -> str:
        """Walk back to the room it came from, restore the workload, put the meeting back.

        Raises:
            ActuatorError: Never for an agent gone off duty (nothing left to undo).
        """
        undo = self._undo.pop(command.key, None)
        agent_id, tick = command.target, self._clock.tick
        if undo is None:
            return "nothing to undo"
        if command.action in ERRANDS:
            here, _ = undo
            plan = self._days.plans.get(agent_id)
            if plan is None:
                return f"{agent_id} went off duty"
            plan.errand = None
            plan.busy_until = tick
            self._days.move_for_answer(agent_id, str(here), None)
            return f"{agent_id}: back to {here}"
        if command.action == "lower_workload":
            next_task, deadline, conflict = undo
            state, plan = self._workload.get(agent_id), self._days.plans.get(agent_id)
            if state is None or plan is None:
                return f"{agent_id} went off duty"
            state.next_task = int(str(next_task))
            self._world.set_flags(plan.index, deadline=bool(deadline), conflict=bool(conflict))
            return f"{agent_id}: workload restored"
        old, new = undo
        attendees = self._replace(new, old, tick)  # type: ignore[arg-type]
        return f"meeting back at tick {old[0]} for {attendees} attendees"  # type: ignore[index]
