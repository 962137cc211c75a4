"""Individual days: each persona's own day in the office, planned from its config and the seed.

A persona on duty gets a plan when it comes on duty: an arrival delay (jitter), a desk (its
favourite office while it has room, else the nearest office with room), a lunch time near
its preferred one, a coffee interval from its caffeine tolerance, breaks, and the meetings
of its department's calendar. Every simulated minute, at an offset of its own (no
lock-step), an agent that is not walking checks its plan and goes where it should be:
bathroom when its bladder asks, a meeting when the calendar says, lunch in its window,
coffee when due, a break, else its desk. A room that is full (present plus walking there)
is not entered: another room of its kind with space is chosen, or the agent waits and tries
again next minute. Walking is the world's walk along the floor graph.

Everything is a function of the seed and the world state, so a replay plans the same day.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from sentinel.agents.doors import Doors
from sentinel.agents.moods import Moods
from sentinel.agents.thermostat import Thermostats
from sentinel.audit import NewEvent
from sentinel.config.company import Company
from sentinel.world import Action, World
from sentinel.world.params import decibels

CHECK_EVERY_TICKS: Final = 60
"""Ours: an agent looks at its plan once a simulated minute (at its own offset)."""
ARRIVAL_SPREAD_SECONDS: Final = 15 * 60
"""Ours: people come in over the shift's first half hour: up to 15 minutes late by
conscientiousness (the punctual first), plus a seeded 0-15 minutes (the bus, the traffic).
Until then an agent is outside: in no room, head count, heat or CO2."""
SETTLE_JITTER_TICKS: Final = 5 * 60
"""Ours: hanging up a coat and greeting at the entrance takes 0-5 minutes."""
MEETING_OVERRUN_MAX_MIN: Final = 20
MEETING_LONG_MIN: Final = 10
"""Ours: a department's meeting overruns by a seeded 0-20 minutes; more than 10 is long."""
LUNCH_JITTER_TICKS: Final = 10 * 60
"""Ours: lunch starts up to 10 minutes after the persona's preferred time."""
LUNCH_WINDOW_TICKS: Final = 60 * 60
"""The lunch window: the preferred time to one hour after it."""
LUNCH_LAST_CALL: Final = 10 * 60
"""No one sets out for lunch in the last 10 minutes of the window (the walk and a queue)."""
MEAL_TICKS: Final = 25 * 60
COFFEE_TICKS: Final = 4 * 60
BATHROOM_TICKS: Final = 3 * 60
BREAK_TICKS: Final = 10 * 60
BREAK_EVERY_TICKS: Final = 150 * 60
"""Ours: a ten-minute break about every two and a half hours."""
COFFEE_MIN_TICKS: Final = 60 * 60
COFFEE_MAX_TICKS: Final = 180 * 60
"""A persona of caffeine tolerance 1 drinks a coffee an hour, of tolerance 0 every 3 hours."""
BLADDER_GO: Final = 60.0
"""Ours: at a bladder of 60 (of 100) an agent goes before the world's urgent band (90)."""
MEETING_TICKS: Final = 30 * 60
MEETING_EARLIEST_MIN: Final = 60
MEETING_LATEST_MIN: Final = 6 * 60
"""A department's meeting starts 1 to 6 hours into the shift, on a quarter hour."""
CHAT_COOLDOWN_TICKS: Final = 20 * 60
"""Ours: a persona starts a conversation at most every 20 minutes."""
MEETING_CHAT_EVERY_TICKS: Final = 5 * 60
"""In a meeting, one attendee speaks to another every 5 minutes."""
WINDOW_OPEN_C: Final = 24.0
"""Ours: a persona holding the ``window`` tool opens a window above 24 C (before the
fingerprint's "too warm" at 26 C)."""
WINDOW_CLOSE_C: Final = 22.5
"""Ours: an open window is closed again below 22.5 C (hysteresis against flapping)."""
LOUD_DB: Final = 61.0
"""Ours: a persona holding ``headphones`` puts them on above 61 dB (a busy open-plan office)."""
QUIET_DB: Final = 55.0
"""Ours: headphones come off when the room is below 55 dB."""
STREET_TOLERANCE_DB: Final = 45.0
STREET_TOLERANCE_SPAN_DB: Final = 20.0
"""Ours: the street noise a persona bears through an open window, 45 dB (neuroticism 1) to
65 dB (neuroticism 0), around the WHO's 53 dB L_den guideline for road traffic: the
shipped 65 dB street puts 50 dB into a ground-floor office, which only the most anxious
mind; a 75 dB arterial road puts 60 dB in, which most do."""
NOISE_CLOSED_HOLD_TICKS: Final = 60 * 60
"""Ours: a window closed against the street stays closed at least an hour (nobody reopens
it for the heat in the meantime: the thermostat is asked instead), so it does not flap."""
HEADPHONES_HOLD_TICKS: Final = 45 * 60
"""Ours: headphones put on stay on (and taken off stay off) at least 45 minutes: people
do not reach for them at every passing conversation (the dB band alone toggled them ~8
times per agent a shift)."""
DESK_KIND: Final = "office"

OPENERS: Final = (
    "how is your morning going?",
    "do you have a minute for a quick question?",
    "did you see the note from the team lead?",
    "shall we sync after lunch?",
    "how was your weekend?",
    "can you look at my draft later today?",
    "what do you think about the new plan?",
    "are you joining the team lunch?",
)
"""What a persona opens a conversation with (no coding words: a reply, not a task)."""


def _draw(seed: int, *keys: object) -> int:
    """A 64-bit draw from the seed and keys (stable across runs and platforms)."""
    text = "|".join(str(k) for k in (seed, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _clock_ticks(clock: str) -> int:
    hours, minutes = clock.split(":")
    return (int(hours) * 60 + int(minutes)) * 60


@dataclass
class Plan:
    """One persona's day (ticks are simulation ticks)."""

    index: int
    desk: str
    arrived: int
    settle_at: int
    lunch_at: int
    lunch_until: int
    coffee_every: int
    next_coffee: int
    next_break: int
    offset: int = 0
    """The tick within each minute at which this agent looks at its plan."""
    tools: frozenset[str] = frozenset()
    busy_until: int = 0
    lunches: int = 0
    at_desk_since: int | None = None
    ate_at: int | None = None
    errand: tuple[str, Action] | None = None
    headphones: bool = False
    headphones_at: int = -HEADPHONES_HOLD_TICKS
    """When the headphones last went on or off."""
    street_tolerance_db: float = STREET_TOLERANCE_DB + STREET_TOLERANCE_SPAN_DB
    """The street noise through an open window this persona bears (from its neuroticism)."""
    closed: bool = False
    next_chat: int = 0
    meetings_felt: int = 0
    """Meetings of the day whose end the persona has felt (they are in start order)."""
    meetings: list[tuple[int, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Conversation:
    """One persona speaking to another (the addressed one answers through the gateway)."""

    speaker: str
    addressee: str
    room: str
    line: str
    meeting: bool


class OfficeDays:
    """The day planner of one run.

    Args:
        company: The company (personas, rooms, simulation).
        world: The running world (its floor plan may be scaled; capacities come from it).
        seed: The run's seed.
        staggered: Agents walk in at their own arrival times (False: all at once).
    """

    def __init__(
        self, company: Company, world: World, seed: int, *, staggered: bool = True
    ) -> None:
        self.staggered = staggered
        self.world = world
        self.seed = seed
        sim = company.simulation
        self.start_second = sim.start_hour * 3600
        self.time_scale = sim.time_scale
        rooms = world.floor_plan.rooms
        self.room_ids = world.params.room_ids
        self.capacity = np.array([room.capacity for room in rooms], dtype=np.int64)
        self.kind = {room.id: str(room.kind) for room in rooms}
        self.number = {room.id: n for n, room in enumerate(rooms)}
        self.floor = {room.id: room.floor for room in rooms}
        self.window = {room.id for room in rooms if room.has_window}
        self.by_kind: dict[str, list[str]] = {}
        for room in rooms:
            self.by_kind.setdefault(str(room.kind), []).append(room.id)
        personas = {p.id: p for p in company.personas}
        self.personas = personas
        self.ids = world.agent_ids
        self._index = {agent_id: n for n, agent_id in enumerate(self.ids)}
        self.plans: dict[str, Plan] = {}
        self.over_ticks = np.zeros(len(rooms), dtype=np.int64)
        self.max_over_ticks = 0
        self.counters: Counter[str] = Counter()
        self.friends = self._relationships(company)
        self.calendar = self._calendar(company)
        self._desk_load: Counter[str] = Counter()
        self.thermostats = Thermostats(world)
        self.doors = Doors(world)
        self.moods = Moods(company, world)
        self.entrances = np.array(
            [self.number[r] for r in self.by_kind.get("entrance", [])], dtype=np.int64
        )
        self.entrance_peak = 0
        self.arrivals: list[int] = []
        self._emotion = world.state["emotion"].copy()
        self._on_duty = world.state["active"] == 1
        self.emotions_seen: set[int] = set()
        self.max_switch_share = 0.0
        for agent_id in self.ids if staggered else ():
            world.delay_arrival(agent_id, self._arrival_delay(agent_id, 0))
        self.closed_for_noise: dict[str, int] = {}
        """Room -> the tick its window was last closed against the street."""

    # -- the plan -------------------------------------------------------------------------

    def _relationships(self, company: Company) -> dict[str, list[str]]:
        """Who talks to whom: manager and reports, then the same department."""
        friends: dict[str, list[str]] = {p.id: [] for p in company.personas}
        for persona in company.personas:
            for report in persona.identity.direct_reports:
                if report in friends:
                    friends[persona.id].append(report)
                    friends[report].append(persona.id)
        for persona in company.personas:
            same = [
                p.id
                for p in company.personas
                if p.identity.department == persona.identity.department and p.id != persona.id
            ]
            friends[persona.id] += [p for p in same if p not in friends[persona.id]]
        return friends

    def _calendar(self, company: Company) -> dict[str, list[tuple[int, int, str]]]:
        """Each department's shift meeting per shift set: (start tick, end tick, room)."""
        meetings: dict[str, list[tuple[int, int, str]]] = {}
        groups: dict[tuple[str, int], list[str]] = {}
        for persona in company.personas:
            key = (persona.identity.department, persona.identity.shift_set)
            groups.setdefault(key, []).append(persona.id)
        rooms = sorted(self.by_kind.get("meeting", []), key=lambda r: self.capacity[self.number[r]])
        taken: list[tuple[int, int, str]] = []
        shifts = {s.set: s.start_hour for s in company.simulation.shifts}
        for (department, shift_set), members in sorted(groups.items()):
            if len(members) < 2 or not rooms:
                continue
            start_hour = shifts.get(shift_set, company.simulation.start_hour)
            span = (MEETING_LATEST_MIN - MEETING_EARLIEST_MIN) // 15
            for attempt in range(span):
                quarter = (_draw(self.seed, "meeting", department, shift_set) + attempt) % span
                minute = MEETING_EARLIEST_MIN + quarter * 15
                start = self._tick_of_second(start_hour * 3600 + minute * 60)
                overrun = _draw(self.seed, "overrun", department, shift_set) % (
                    MEETING_OVERRUN_MAX_MIN + 1
                )
                end = start + MEETING_TICKS + int(overrun * 60 / self.time_scale)
                fits = [r for r in rooms if self.capacity[self.number[r]] >= len(members)]
                free = [
                    r
                    for r in fits
                    if not any(s < end and start < e and r == room for s, e, room in taken)
                ]
                if free:
                    taken.append((start, end, free[0]))
                    for member in members:
                        meetings.setdefault(member, []).append((start, end, free[0]))
                    break
        return meetings

    def _arrival_delay(self, agent_id: str, day: int) -> int:
        """Ticks after its shift begins that the persona walks in (day: a key per arrival)."""
        persona = self.personas.get(agent_id)
        punctual = persona.personality.conscientiousness if persona is not None else 0.5
        seconds = (1.0 - punctual) * ARRIVAL_SPREAD_SECONDS + _draw(
            self.seed, "arrive", agent_id, day
        ) % ARRIVAL_SPREAD_SECONDS
        return int(seconds / self.time_scale)

    def _tick_of_second(self, second_of_day: int) -> int:
        """The first tick at or after a second of the day (the run starts at start_hour)."""
        offset = (second_of_day - self.start_second) % (24 * 3600)
        return int(np.ceil(offset / self.time_scale))

    def _assign_desk(self, agent_id: str) -> str:
        offices = self.by_kind.get(DESK_KIND, [])
        persona = self.personas.get(agent_id)
        favourite = persona.preferences.favorite_room if persona is not None else None
        choices = ([favourite] if favourite in offices else []) + offices
        for room in choices:
            if self._desk_load[room] < self.capacity[self.number[room]]:
                self._desk_load[room] += 1
                return room
        return choices[0] if choices else self.room_ids[0]

    def start(self, agent_id: str, tick: int) -> None:
        """The agent came on duty: plan its day."""
        index = self._index[agent_id]
        persona = self.personas.get(agent_id)
        tolerance = float(self.world.state["caffeine_tolerance"][index])
        coffee_every = int(COFFEE_MAX_TICKS - tolerance * (COFFEE_MAX_TICKS - COFFEE_MIN_TICKS))
        lunch = persona.preferences.lunch_time if persona is not None else "12:00"
        lunch_at = self._tick_of_second(_clock_ticks(lunch))
        jitter = _draw(self.seed, "settle", agent_id) % SETTLE_JITTER_TICKS
        self.arrivals.append(tick)
        # its next arrival (the world counts it down only once its next shift is on); set
        # here, not when it leaves, so a run's end changes no state a replay would not
        if self.staggered:
            self.world.delay_arrival(agent_id, self._arrival_delay(agent_id, tick))
        plan = Plan(
            index=index,
            desk=self._assign_desk(agent_id),
            arrived=tick,
            settle_at=tick + jitter,
            lunch_at=lunch_at + _draw(self.seed, "lunch", agent_id) % LUNCH_JITTER_TICKS,
            lunch_until=lunch_at + LUNCH_WINDOW_TICKS,
            coffee_every=coffee_every,
            next_coffee=tick + jitter + _draw(self.seed, "coffee", agent_id) % coffee_every,
            next_break=tick
            + BREAK_EVERY_TICKS // 2
            + _draw(self.seed, "break", agent_id) % BREAK_EVERY_TICKS,
            next_chat=tick + jitter + _draw(self.seed, "chat", agent_id) % CHAT_COOLDOWN_TICKS,
            meetings=[m for m in self.calendar.get(agent_id, []) if m[1] > tick],
            tools=frozenset(persona.capabilities.tools) if persona is not None else frozenset(),
            offset=_draw(self.seed, "offset", agent_id) % CHECK_EVERY_TICKS,
            street_tolerance_db=STREET_TOLERANCE_DB
            + STREET_TOLERANCE_SPAN_DB * (1.0 - float(self.world.state["neuroticism"][index])),
        )
        self.counters["day:planned"] += 1
        self.plans[agent_id] = plan

    def stop(self, agent_id: str) -> None:
        """The agent went off duty."""
        plan = self.plans.pop(agent_id, None)
        if plan is not None:
            self._desk_load[plan.desk] -= 1
            self._close_day(plan)

    def _close_day(self, plan: Plan) -> None:
        """Count whether the day had exactly one lunch (a shift that did not span it: none)."""
        if plan.lunch_until - LUNCH_WINDOW_TICKS < plan.arrived or plan.closed:
            return
        plan.closed = True
        self.counters["day:lunch_due"] += 1
        self.counters["day:lunch_once"] += int(plan.lunches == 1)

    def close(self) -> None:
        """The run ends: count the days of agents still on duty."""
        for plan in self.plans.values():
            self._close_day(plan)

    # -- each tick ------------------------------------------------------------------------

    def tick(self, tick: int, events: list[NewEvent]) -> list[Conversation]:
        """Plans due this tick act; return the conversations started."""
        self._watch_capacity()
        self._watch_emotions()
        s = self.world.state
        talks: list[Conversation] = []
        for agent_id, plan in self.plans.items():
            if (tick + plan.offset) % CHECK_EVERY_TICKS:
                continue
            room = int(s["room"][plan.index])
            if room < 0 or s["destination"][plan.index] >= 0:
                continue  # walking
            here = self.room_ids[room]
            self._arrive(agent_id, plan, here, tick, events)
            self._comfort(agent_id, plan, here, tick, events)
            self._feel(agent_id, plan, room, tick)
            if tick >= plan.busy_until:
                self._next_place(agent_id, plan, here, tick, events)
            talk = self._converse(agent_id, plan, here, tick)
            if talk is not None:
                talks.append(talk)
        return talks

    def _watch_emotions(self) -> None:
        """Emotions seen, and the largest share of agents on duty switching in one tick."""
        s = self.world.state
        on = s["active"] == 1
        emotion = s["emotion"]
        both = on & self._on_duty
        if both.any():
            switched = int(np.count_nonzero(emotion[both] != self._emotion[both]))
            self.max_switch_share = max(self.max_switch_share, switched / int(both.sum()))
        self.emotions_seen.update(int(e) for e in np.flatnonzero(np.bincount(emotion[on])))
        self._emotion = emotion.copy()
        self._on_duty = on
        if self.entrances.size:
            peak = int(s["occupancy"][self.entrances].max())
            self.entrance_peak = max(self.entrance_peak, peak)

    def _feel(self, agent_id: str, plan: Plan, room: int, tick: int) -> None:
        """The minute's room (noise as heard, temperature) and meetings that ended."""
        s = self.world.state
        heard = -1.0 if plan.headphones else float(decibels(max(float(s["noise"][room]), 1e-12)))
        self.moods.room(agent_id, heard_db=heard, temperature=float(s["temperature"][room]))
        while plan.meetings_felt < len(plan.meetings):
            start, end, _ = plan.meetings[plan.meetings_felt]
            if tick < end:
                break
            plan.meetings_felt += 1
            overran = (end - start) - MEETING_TICKS > MEETING_LONG_MIN * 60 / self.time_scale
            self.moods.meeting_ended(agent_id, overran=overran)

    def _watch_capacity(self) -> None:
        over = self.world.state["occupancy"] > self.capacity
        self.over_ticks = np.where(over, self.over_ticks + 1, 0)
        self.max_over_ticks = max(self.max_over_ticks, int(self.over_ticks.max(initial=0)))

    def _arrive(self, agent_id: str, plan: Plan, here: str, tick: int, ev: list[NewEvent]) -> None:
        """Errands done on arrival; the first time at the desk noted."""
        if here == plan.desk and plan.at_desk_since is None:
            plan.at_desk_since = tick
            self.counters["day:at_desk_30min"] += int(tick - plan.arrived <= 30 * 60)
            self.counters["day:reached_desk"] += 1
        if plan.errand is None or plan.errand[0] != here:
            return
        action = plan.errand[1]
        plan.errand = None
        self.world.act(plan.index, action)
        name = {Action.MEAL: "meal", Action.COFFEE: "coffee", Action.RELIEVE: "bathroom"}
        kind = name.get(action, "errand")
        if action == Action.MEAL:
            self.counters["day:meals"] += 1
            if plan.lunch_until - LUNCH_WINDOW_TICKS <= tick <= plan.lunch_until:
                plan.ate_at = tick  # lunch; a meal outside the window is a snack
                plan.lunches += 1
                self.counters["day:meals_in_window"] += 1
                self.moods.lunch(agent_id)
        elif action == Action.COFFEE:
            self.moods.coffee(agent_id)
        self._world_action(agent_id, kind, here, tick, ev)

    def _world_action(
        self, agent_id: str, kind: str, room: str, tick: int, events: list[NewEvent]
    ) -> None:
        self.counters[f"world_action:{kind}"] += 1
        events.append(
            NewEvent(
                "runtime",
                "runtime.world_action",
                {"agent_id": agent_id, "action": kind, "room": room},
                tick=tick,
            )
        )

    def _comfort(self, agent_id: str, plan: Plan, here: str, tick: int, ev: list[NewEvent]) -> None:
        """Windows against the heat (closed again when cool); headphones against the noise."""
        s = self.world.state
        room = self.number[here]
        temperature = float(s["temperature"][room])
        street = self.street_db(here)
        if s["window_open"][room] and temperature < WINDOW_CLOSE_C:
            self.world.open_window(here, is_open=False)
            self._world_action(agent_id, "close_window", here, tick, ev)
        elif street is not None and street > plan.street_tolerance_db:
            self._quiet_the_street(agent_id, plan, here, tick, ev)
        elif (
            "window" in plan.tools
            and here in self.window
            and not s["window_open"][room]
            and temperature > WINDOW_OPEN_C
            and self._may_open_window(plan, here, tick)
        ):
            self.world.open_window(here)
            self._world_action(agent_id, "open_window", here, tick, ev)
        turned = self.thermostats.adjust(here, room, here in self.window, tick)
        if turned is not None:
            self._world_action(agent_id, turned, here, tick, ev)
        door = self.doors.adjust(here, room, tick)
        if door is not None:
            self._world_action(agent_id, door, here, tick, ev)
        if tick - plan.headphones_at < HEADPHONES_HOLD_TICKS:
            return
        decibels = 10 * np.log10(max(float(s["noise"][room]), 1e-12))
        if plan.headphones and decibels < QUIET_DB:
            plan.headphones = False
            plan.headphones_at = tick
            self._world_action(agent_id, "headphones_off", here, tick, ev)
        elif not plan.headphones and "headphones" in plan.tools and decibels > LOUD_DB:
            plan.headphones = True
            plan.headphones_at = tick
            self._world_action(agent_id, "headphones_on", here, tick, ev)

    def street_db(self, room: str, *, if_open: bool = False) -> float | None:
        """The street noise (dB) the room's open window lets in now; None: window shut.

        With ``if_open``, what it would let in were its window open (None: no window).
        """
        number = self.number[room]
        if not (if_open or self.world.state["window_open"][number]):
            return None
        hour = int(self.world.clock()[:2])
        level = float(self.world.params.tables["street_noise"][number, hour])
        return float(decibels(level)) if level > 0.0 else None

    def _may_open_window(self, plan: Plan, here: str, tick: int) -> bool:
        """Not against the street this persona cannot bear, nor soon after a close for it."""
        if tick - self.closed_for_noise.get(here, -NOISE_CLOSED_HOLD_TICKS) < (
            NOISE_CLOSED_HOLD_TICKS
        ):
            return False
        street = self.street_db(here, if_open=True)
        return street is None or street <= plan.street_tolerance_db

    def _quiet_the_street(
        self, agent_id: str, plan: Plan, here: str, tick: int, ev: list[NewEvent]
    ) -> bool:
        """Quiet the street: close the open window, or put headphones on.

        Headphones when the room is too warm to close the window (above
        :data:`WINDOW_OPEN_C`). Returns True if something changed.
        """
        room = self.number[here]
        street = self.street_db(here)
        if street is None or street <= plan.street_tolerance_db:
            return False
        if float(self.world.state["temperature"][room]) <= WINDOW_OPEN_C:
            noise = float(decibels(self.world.state["noise"][room]))
            self.world.open_window(here, is_open=False)
            self.closed_for_noise[here] = tick
            self.counters["day:windows_closed_for_noise"] += 1
            self.counters["world_action:close_window"] += 1
            ev.append(
                NewEvent(
                    "runtime",
                    "runtime.world_action",
                    {
                        "agent_id": agent_id,
                        "action": "close_window",
                        "room": here,
                        "reason": "street_noise",
                        "street_db": round(street, 3),
                        "noise_db": round(noise, 3),
                    },
                    tick=tick,
                )
            )
            return True
        if plan.headphones or "headphones" not in plan.tools:
            return False
        plan.headphones = True
        plan.headphones_at = tick
        self.counters["day:headphones_for_street"] += 1
        self._world_action(agent_id, "headphones_on", here, tick, ev)
        return True

    def apply(self, agent_id: str, target: str | None, tick: int, events: list[NewEvent]) -> bool:
        """An answer's world target (window, thermostat, headphones, door); True if applied."""
        plan = self.plans.get(agent_id)
        if plan is None or target not in (
            "window",
            "thermostat",
            "headphones",
            "door",
            "close_window",
        ):
            return False
        room = int(self.world.state["room"][plan.index])
        if room < 0:
            return False
        here = self.room_ids[room]
        if target == "close_window":
            # the street_noise rule: quiet asked for with the window open; else headphones
            if self._quiet_the_street(agent_id, plan, here, tick, events):
                return True
            target = "headphones"
        if target == "thermostat" or (
            target == "window"
            and (
                here not in self.window
                or self.world.state["window_open"][room]
                or not self._may_open_window(plan, here, tick)
            )
        ):  # no window to open: the dial on the wall is what a warm person reaches for
            turned = self.thermostats.adjust(here, room, here in self.window, tick)
            if turned is not None:
                self._world_action(agent_id, turned, here, tick, events)
            return turned is not None
        if target == "window":
            self.world.open_window(here)
            self._world_action(agent_id, "open_window", here, tick, events)
            return True
        if target == "door" or plan.headphones:
            # quiet asked for and no (more) headphones to put on: close the room's door
            door = self.doors.close_against_noise(here, room, tick)
            if door is not None:
                self._world_action(agent_id, door, here, tick, events)
            return door is not None
        plan.headphones = True
        plan.headphones_at = tick
        self._world_action(agent_id, "headphones_on", here, tick, events)
        return True

    def headphones(self, agent_id: str) -> bool:
        """Whether the agent wears headphones (its perceived noise is low)."""
        plan = self.plans.get(agent_id)
        return plan is not None and plan.headphones

    def _goal(self, plan: Plan, tick: int) -> tuple[str, Action | None, int] | None:
        """What the plan asks for now: (room or room kind, errand, ticks to stay); None: desk."""
        meeting = next((m for m in plan.meetings if m[0] <= tick < m[1]), None)
        if float(self.world.state["bladder"][plan.index]) >= BLADDER_GO:
            return ("bathroom", Action.RELIEVE, BATHROOM_TICKS)
        if meeting is not None:
            return (meeting[2], None, meeting[1] - tick)
        if plan.ate_at is None and plan.lunch_at <= tick <= plan.lunch_until - LUNCH_LAST_CALL:
            return ("kitchen", Action.MEAL, MEAL_TICKS)
        if tick >= plan.next_coffee:
            return ("kitchen", Action.COFFEE, COFFEE_TICKS)
        if tick >= plan.next_break:
            return ("lounge", None, BREAK_TICKS)
        return None

    def _next_place(
        self, agent_id: str, plan: Plan, here: str, tick: int, events: list[NewEvent]
    ) -> None:
        """Where the plan says the agent should be now, and the walk there."""
        if tick < plan.settle_at:
            return
        goal = self._goal(plan, tick)
        if goal is None:
            if here != plan.desk:
                self._go(plan, plan.desk, here, None)
            return
        target, action, stay = goal
        room = self._room_for(target, here)
        if room is None:
            return  # every room of the kind is full: wait, try again next minute
        if room != here and not self._go(plan, room, here, action):
            return
        if room == here and action is not None:
            plan.errand = (room, action)
            self._arrive(agent_id, plan, here, tick, events)
        plan.busy_until = tick + stay + self._walk(here, room)
        if action == Action.COFFEE:
            plan.next_coffee = tick + plan.coffee_every
        if target == "lounge":
            plan.next_break = tick + BREAK_EVERY_TICKS

    def _walk(self, source: str, target: str) -> int:
        transit = self.world.params.tables["transit_ticks"]
        return int(transit[self.number[source], self.number[target]])

    def _room_for(self, target: str, here: str) -> str | None:
        """A room of kind ``target`` (or the room ``target``) with space, nearest first."""
        if target in self.number:
            return target if target == here or self._has_space(target) else None
        candidates = self.by_kind.get(target, [])
        if here in candidates:
            return here
        ordered = sorted(candidates, key=lambda r: (self._walk(here, r), r))
        return next((room for room in ordered if self._has_space(room)), None)

    def _has_space(self, room: str) -> bool:
        s = self.world.state
        number = self.number[room]
        # who is in the room now: the occupancy array is counted before the transit phase,
        # so a walker that arrived in the last tick is in neither it nor ``destination``
        present = int(np.count_nonzero((s["room"] == number) & (s["active"] == 1)))
        coming = int(np.count_nonzero(s["destination"] == number))
        ordered = int(np.count_nonzero(s["move_order"] == number))
        return present + coming + ordered < int(self.capacity[number])

    def _go(self, plan: Plan, room: str, here: str, action: Action | None) -> bool:
        if room != here and not self._has_space(room):
            return False
        self.world.move(plan.index, room)
        plan.errand = (room, action) if action is not None else None
        self.counters["world_action:walk"] += 1
        return True

    def move_for_answer(self, agent_id: str, room: str, action: Action | None) -> bool:
        """A model's ``move``: walk there if the room has space (else stay); True if walking."""
        plan = self.plans.get(agent_id)
        if plan is None:
            return False
        current = int(self.world.state["room"][plan.index])
        if current < 0:
            return False
        here = self.room_ids[current]
        if room == here:
            if action is not None:
                plan.errand = (room, action)
            return False
        return self._go(plan, room, here, action)

    # -- conversations --------------------------------------------------------------------

    def _converse(self, agent_id: str, plan: Plan, here: str, tick: int) -> Conversation | None:
        s = self.world.state
        meeting = next((m for m in plan.meetings if m[0] <= tick < m[1] and m[2] == here), None)
        if meeting is not None:
            due = tick >= plan.next_chat and (tick - meeting[0]) >= 60
            every = MEETING_CHAT_EVERY_TICKS
        else:
            extraversion = float(s["extraversion"][plan.index])
            due = tick >= plan.next_chat and _draw(self.seed, "talk", agent_id, tick) % 100 < int(
                100 * extraversion
            )
            every = CHAT_COOLDOWN_TICKS
        if not due:
            return None
        room = self.number[here]
        present = [
            other
            for other in self.friends.get(agent_id, [])
            if other in self.plans
            and int(s["room"][self.plans[other].index]) == room
            and s["destination"][self.plans[other].index] < 0
        ]
        if not present:
            return None
        plan.next_chat = tick + every
        addressee = present[_draw(self.seed, "whom", agent_id, tick) % len(present)]
        name = self.personas[addressee].identity.name if addressee in self.personas else addressee
        opener = OPENERS[_draw(self.seed, "line", agent_id, tick) % len(OPENERS)]
        line = f"{name.split()[0]}, {opener}"
        self.counters["conversations"] += 1
        self.moods.chat(agent_id)
        self.moods.chat(addressee)
        self.counters["conversations_in_meetings"] += int(meeting is not None)
        return Conversation(agent_id, addressee, here, line, meeting is not None)

    # -- results --------------------------------------------------------------------------

    def report(self) -> dict[str, int]:
        """Counters of the day so far (for ``runtime.finished``)."""
        counters = dict(self.counters)
        counters["day:max_over_capacity_ticks"] = self.max_over_ticks
        counters["day:entrance_peak"] = self.entrance_peak
        if self.arrivals:
            counters["day:arrival_spread_ticks"] = max(self.arrivals) - min(self.arrivals)
        counters["day:emotions_seen"] = len(self.emotions_seen)
        counters["day:max_emotion_switch_permille"] = round(1000 * self.max_switch_share)
        return counters
