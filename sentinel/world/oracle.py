"""The world's systems as an esper ECS: the oracle and the speed baseline.

Entities are agents, rooms and chaos kinds; components are small classes; one esper
``Processor`` per phase, in the fixed phase order. The code is written per entity, the way
an ECS user would write it, independently of the vectorised numpy reference, but every float
expression follows the same term order, so the state it produces is bit for bit the
native one (differential tests compare state hashes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Final

import esper
import numpy as np

from sentinel.world.layout import (
    EMPTY_PRIORITY,
    PARAM_NAMES,
    Action,
    Emotion,
    Reason,
    RoomCode,
    Stat,
)
from sentinel.world.params import (
    AIR_CO2_KEEP,
    AIR_CO2_RISE,
    AIR_HEAT_RISE,
    AIR_WINDOW_SHIFT,
    WorldParams,
)
from sentinel.world.reference import CHAOS_STREAM, MEET_STREAM, SPLITMIX_GAMMA
from sentinel.world.state import State

MASK64: Final = (1 << 64) - 1
_worlds = itertools.count()


def splitmix64(x: int) -> int:
    """SplitMix64's output function on Python integers (mod 2**64)."""
    z = (x + SPLITMIX_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


@dataclass
class Body:
    """Needs and caffeine."""

    hunger: float
    energy: float
    bladder: float
    stress: float
    social: float
    caffeine: float


@dataclass
class Traits:
    """What the persona brings (read-only here)."""

    extraversion: float
    neuroticism: float
    caffeine_tolerance: float
    morning_person: int


@dataclass
class Duty:
    """Shift membership, presence and stress inputs from the host."""

    shift_set: int
    active: int
    on_shift_ticks: int
    deadline: int
    conflict: int
    pending: int


@dataclass
class Place:
    """Where the agent is and where it walks."""

    room: int
    destination: int
    transit_left: int
    move_order: int
    chat_left: int
    walk_paired: int
    arrival_left: int
    """Ticks still outside before entering once the shift is on (a host input)."""
    number: int
    """The agent's row in the arrays (pairs draw their chance by the first's row)."""


@dataclass
class Mood:
    """Valence, arousal, the emotion code."""

    valence: float
    arousal: float
    emotion: int
    valence_impulse: float
    arousal_impulse: float
    """Event impulses the host adds; the mood system adds them in and lets them fade."""


@dataclass
class Mind:
    """Perception bands and the decision queue."""

    perception: list[int]
    priority: list[int]
    reason: list[int]
    ttl: list[int]


@dataclass
class RoomState:
    """One room's physics."""

    number: int
    code: int
    has_window: int
    air: tuple[tuple[float, float, float, float], tuple[float, float, float, float]]
    """(heat rise, window shift, CO2 rise, CO2 keep) with windows closed and open."""
    neighbours: list[int]
    window_open: int
    has_door: int
    door_closed: int
    street: list[float]
    """Outdoor noise (linear power) an open window lets in, per hour of the day."""
    noise: float
    temperature: float
    co2: float
    occupancy: int
    thermostat: float


@dataclass
class ChaosState:
    """One chaos kind."""

    number: int
    left: int
    room: int
    started: int


@dataclass
class Shared:
    """World-wide values every processor reads (the esper world's resources)."""

    params: WorldParams
    p: dict[str, float]
    tick: int
    seed: int
    ac_offset: float
    stats: list[int]
    rooms: list[RoomState] = field(default_factory=list)
    chaos: list[ChaosState] = field(default_factory=list)

    def clock(self) -> tuple[int, int]:
        """(minute of the day, hour of the day) at the current tick."""
        seconds = self.p["start_second"] + float(self.tick) * self.p["time_scale"]
        minute = int(seconds / 60.0 // 1) % 1440
        return minute, minute // 60


class _System(esper.Processor):
    def __init__(self, shared: Shared) -> None:
        self.shared = shared


class InputSystem(_System):
    """Shift changes, then pending actions and move orders."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, p, t = self.shared, self.shared.p, self.shared.params.tables
        _, hour = sh.clock()
        current = int(t["shift_by_hour"][hour])
        queue = sh.params.queue_size
        rows = sorted(  # esper iterates a set; spawns fill rooms in agent order
            esper.get_components(Body, Duty, Place, Mind), key=lambda row: row[1][2].number
        )
        present = [0] * len(sh.rooms)
        for _, (_, duty, place, _) in rows:
            if duty.active == 1 and place.room >= 0 and duty.shift_set in (0, current):
                present[place.room] += 1
        order = [int(r) for r in t["spawn_order"]]
        capacity = [int(c) for c in t["room_capacity"]]
        cursor = 0
        for _, (body, duty, place, mind) in rows:
            should = duty.shift_set in (0, current)
            if should and duty.active == 0 and place.arrival_left > 0:
                place.arrival_left -= 1  # still on the way in: in no room
            elif should and duty.active == 0:
                while cursor < len(order) and present[order[cursor]] >= capacity[order[cursor]]:
                    cursor += 1
                arrival = order[cursor] if cursor < len(order) else order[0]
                present[arrival] += 1
                duty.active, duty.on_shift_ticks, duty.pending = 1, 0, 0
                place.room, place.destination, place.transit_left = arrival, -1, 0
                place.move_order, place.chat_left, place.walk_paired = -1, 0, 0
                body.hunger, body.energy = p["spawn_hunger"], p["spawn_energy"]
                body.bladder, body.stress = p["spawn_bladder"], p["spawn_stress"]
                body.social, body.caffeine = p["spawn_social"], 0.0
                mind.priority = [EMPTY_PRIORITY] * queue
                mind.reason, mind.ttl = [0] * queue, [0] * queue
                sh.stats[Stat.SPAWNED] += 1
            elif not should and duty.active == 1:
                duty.active, duty.pending = 0, 0
                place.room, place.destination, place.transit_left = -1, -1, 0
                place.move_order, place.chat_left, place.walk_paired = -1, 0, 0
                mind.perception = [0] * len(mind.perception)
                mind.priority = [EMPTY_PRIORITY] * queue
                mind.reason, mind.ttl = [0] * queue, [0] * queue
                sh.stats[Stat.RETIRED] += 1
            if duty.active == 1:
                self._act(body, duty, place)
            duty.pending = 0
            place.move_order = -1

    def _act(self, body: Body, duty: Duty, place: Place) -> None:
        sh, p = self.shared, self.shared.p
        code = sh.rooms[place.room].code if place.room >= 0 else 255
        done = False
        if duty.pending == Action.COFFEE and code == RoomCode.KITCHEN:
            body.caffeine = body.caffeine + p["coffee_mg"]
            done = True
        elif duty.pending == Action.MEAL and code == RoomCode.KITCHEN:
            body.hunger = max(0.0, body.hunger - p["meal_hunger"])
            body.energy = min(100.0, body.energy + p["meal_energy"])
            done = True
        elif duty.pending == Action.RELIEVE and code == RoomCode.BATHROOM:
            body.bladder = 0.0
            done = True
        if done:
            sh.stats[Stat.ACTIONS_DONE] += 1
        elif duty.pending != 0:
            sh.stats[Stat.ACTIONS_REFUSED] += 1
        order = place.move_order
        if order >= 0 and place.room >= 0 and order != place.room:
            place.destination, place.walk_paired = order, 0
            place.transit_left = int(sh.params.tables["transit_ticks"][place.room, order])
            place.room = -1


class BiologySystem(_System):
    """Needs, caffeine, stress and energy."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, p, t = self.shared, self.shared.p, self.shared.params.tables
        minute, _ = sh.clock()
        shift_ticks = int(t["ints"][0])
        circadian = (t["circadian"][0, minute], t["circadian"][1, minute])
        for _, (body, traits, duty, place) in esper.get_components(Body, Traits, Duty, Place):
            if duty.active != 1:
                continue
            crowd = place.room >= 0 and sh.rooms[place.room].occupancy >= 2
            company = crowd or place.chat_left > 0
            meeting = crowd and sh.rooms[place.room].code == RoomCode.MEETING
            hunger = min(100.0, body.hunger + p["hunger_rate"])
            if body.caffeine > p["bladder_caffeine_mg"]:
                rate = p["bladder_rate"] * p["bladder_caffeine_factor"]
            else:
                rate = p["bladder_rate"]
            bladder = min(100.0, body.bladder + rate)
            if traits.extraversion >= p["extravert_threshold"]:
                drift = p["social_extravert"]
            else:
                drift = p["social_introvert"]
            if company:
                drift = drift + p["social_company"]
            social = min(100.0, max(0.0, body.social + drift))
            caffeine = body.caffeine * p["caffeine_decay"]
            target = (
                (
                    (
                        (p["stress_meeting_term"] if meeting else 0.0)
                        + (p["stress_deadline_term"] if duty.deadline == 1 else 0.0)
                    )
                    + (p["stress_conflict_term"] if duty.conflict == 1 else 0.0)
                )
                + max(0.0, hunger - 50.0) * p["stress_hunger_gain"]
            ) * (0.5 + 0.5 * traits.neuroticism)
            stress = body.stress + (target - body.stress) * p["stress_gain"]
            hours_on = float(duty.on_shift_ticks % shift_ticks) * p["dt_hours"]
            energy_target = (
                (
                    (
                        float(circadian[traits.morning_person])
                        - max(0.0, hunger - 70.0) * p["energy_hunger_gain"]
                    )
                    - stress * p["energy_stress_gain"]
                )
                + min(1.0, caffeine * p["caffeine_norm"])
                * (p["caffeine_boost"] * (1.0 - 0.5 * traits.caffeine_tolerance))
            ) - hours_on * p["drain_per_hour"]
            energy = body.energy + (energy_target - body.energy) * p["energy_gain"]
            body.hunger, body.bladder, body.social = hunger, bladder, social
            body.caffeine, body.stress = caffeine, stress
            body.energy = min(100.0, max(0.0, energy))
            duty.on_shift_ticks += 1


class PhysicsSystem(_System):
    """Head counts, noise, temperature, CO2."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, p, t = self.shared, self.shared.p, self.shared.params.tables
        for room in sh.rooms:
            room.occupancy = 0
        for _, (duty, place) in esper.get_components(Duty, Place):
            if duty.active == 1 and place.room >= 0:
                sh.rooms[place.room].occupancy += 1
        own = [0.0] * (len(sh.rooms) + 1)
        for room in sh.rooms:
            heads = float(room.occupancy)
            talkers = heads * p["speaker_power"] if room.occupancy >= 2 else 0.0
            meeting = room.code == RoomCode.MEETING and room.occupancy >= 2
            own[room.number] = (p["ambient_power"] + talkers) + (
                p["meeting_power"] if meeting else 0.0
            )
        factors = t["chaos_factor"]
        for chaos in sh.chaos:
            if chaos.left > 0 and chaos.room >= 0:
                own[chaos.room] = own[chaos.room] * float(factors[chaos.number])
        minute, hour = sh.clock()
        for room in sh.rooms:
            if room.window_open == 1 and room.has_window == 1:
                own[room.number] = own[room.number] + room.street[hour]
        shut = [room.door_closed == 1 and room.has_door == 1 for room in sh.rooms] + [False]
        sun = float(t["sun"][minute])
        for room in sh.rooms:
            leaked = 0.0
            for other in room.neighbours:
                gain = p["door_factor"] if shut[room.number] or shut[other] else 1.0
                leaked = leaked + own[other] * gain
            room.noise = min(own[room.number] + leaked * p["leak_factor"], p["noise_cap_power"])
            heads = float(room.occupancy)
            air = room.air[1] if room.window_open == 1 and room.has_window == 1 else room.air[0]
            rise, shift, co2_rise, co2_keep = air
            target = (
                (p["base_temperature"] + shift)
                + (sun * p["sun_gain"] if room.has_window == 1 else 0.0)
            ) + sh.ac_offset
            target = target + room.thermostat
            target = target + heads * rise
            room.temperature = target + (room.temperature - target) * p["temperature_keep"]
            steady = p["co2_outdoor"] + heads * co2_rise
            room.co2 = steady + (room.co2 - steady) * co2_keep


class TransitSystem(_System):
    """Walkers pair up per destination floor and may chat; the rest walk and arrive."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, t = self.shared, self.shared.params.tables
        walkers = sorted(  # esper iterates a set; pairing goes by agent row
            (
                place
                for _, (duty, place) in esper.get_components(Duty, Place)
                if duty.active == 1 and place.transit_left > 0
            ),
            key=lambda place: place.number,
        )
        waiting: dict[int, Place] = {}
        threshold, chat_ticks = int(t["meet_threshold"][0]), int(t["ints"][3])
        for place in walkers:
            if place.chat_left != 0 or place.walk_paired != 0:
                continue
            floor = int(t["room_floor"][place.destination])
            first = waiting.pop(floor, None)
            if first is None:
                waiting[floor] = place
                continue
            first.walk_paired = place.walk_paired = 1
            base = sh.seed + sh.tick * SPLITMIX_GAMMA + (first.number + 1) * MEET_STREAM
            if splitmix64(base & MASK64) < threshold:
                first.chat_left = place.chat_left = chat_ticks
                sh.stats[Stat.MEETINGS] += 1
        for place in walkers:
            if place.chat_left > 0:
                place.chat_left -= 1
            else:
                place.transit_left -= 1
                if place.transit_left == 0:
                    place.room, place.destination = place.destination, -1
                    self.shared.stats[Stat.ARRIVALS] += 1


class ChaosSystem(_System):
    """Disruptions: count down, or start with the per-tick Poisson probability."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, t = self.shared, self.shared.params.tables
        for chaos in sh.chaos:
            chaos.started = 0
            k = chaos.number
            base = (sh.seed + sh.tick * SPLITMIX_GAMMA + (k + 1) * CHAOS_STREAM) & MASK64
            draw = splitmix64(base)
            if chaos.left > 0:
                chaos.left -= 1
                if chaos.left == 0:
                    chaos.room = -1
            elif draw < int(t["chaos_threshold"][k]):
                chaos.left = int(t["chaos_duration"][k])
                fixed = int(t["chaos_fixed_room"][k])
                chaos.room = fixed if fixed >= 0 else splitmix64(draw) % len(sh.rooms)
                chaos.started = 1
                sh.stats[Stat.CHAOS_STARTED] += 1
        ac_kind = int(t["ints"][2])
        if ac_kind >= 0 and sh.chaos[ac_kind].left > 0:
            sh.ac_offset = min(sh.p["ac_max"], sh.ac_offset + sh.p["ac_step"])
        else:
            sh.ac_offset = 0.0


def _in_meeting(shared: Shared, place: Place) -> bool:
    if place.room < 0:
        return False
    room = shared.rooms[place.room]
    return room.occupancy >= 2 and room.code == RoomCode.MEETING


def _emotion(valence: float, arousal: float, band: float) -> int:  # noqa: PLR0911 - a ladder
    if valence > 0.3 and arousal > 0.5:
        return Emotion.EXCITED
    if valence > 0.3:
        return Emotion.RELAXED
    if valence > band:
        return Emotion.HAPPY
    if valence < -0.3 and arousal > 0.5:
        return Emotion.STRESSED
    if valence < -0.3:
        return Emotion.TIRED
    if valence < -band:
        return Emotion.FRUSTRATED
    if arousal > 0.5:
        return Emotion.FOCUSED
    if arousal < 0.2:
        return Emotion.BORED
    return Emotion.NEUTRAL


class MoodSystem(_System):
    """Valence, arousal, emotion."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, p = self.shared, self.shared.p
        for entity, (body, duty, place, mood) in esper.get_components(Body, Duty, Place, Mood):
            if duty.active != 1:
                continue
            traits = esper.component_for_entity(entity, Traits)
            valence = (
                (
                    (body.energy - 50.0) * p["valence_energy_gain"]
                    - body.stress * p["valence_stress_gain"]
                )
                - max(0.0, body.hunger - 30.0) * p["valence_hunger_gain"]
            ) - max(0.0, body.social - 70.0) * p["valence_social_gain"]
            temperament = traits.extraversion - traits.neuroticism
            valence = (valence + temperament * p["valence_temperament_gain"]) + mood.valence_impulse
            valence = min(1.0, max(-1.0, valence))
            arousal = (
                (
                    body.stress * p["arousal_stress_gain"]
                    + min(1.0, body.caffeine * p["arousal_caffeine_norm"])
                    * p["arousal_caffeine_gain"]
                )
                + (p["arousal_meeting"] if _in_meeting(sh, place) else 0.0)
            ) + mood.arousal_impulse
            arousal = min(1.0, max(0.0, arousal))
            mood.valence_impulse = mood.valence_impulse * p["mood_impulse_keep"]
            mood.arousal_impulse = mood.arousal_impulse * p["mood_impulse_keep"]
            mood.valence, mood.arousal = valence, arousal
            mood.emotion = int(_emotion(valence, arousal, p["valence_neutral_band"]))


class PerceptionSystem(_System):
    """Bands of body and room."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh, p = self.shared, self.shared.p
        noise_edges = (p["noise_quiet"], p["noise_normal"], p["noise_lively"], p["noise_loud"])
        co2_edges = (p["co2_fresh"], p["co2_normal"], p["co2_stuffy"])
        for _, (body, duty, place, mind) in esper.get_components(Body, Duty, Place, Mind):
            if duty.active != 1:
                continue
            energy, social = body.energy, body.social
            if energy < 30.0:
                energy_band = 0
            elif energy < 50.0:
                energy_band = 1
            elif energy > 85.0:
                energy_band = 3
            else:
                energy_band = 2
            social_band = 0 if social < 20.0 else 2 if social > 70.0 else 1
            room = sh.rooms[place.room] if place.room >= 0 else None
            mind.perception = [
                (body.hunger > 40.0) + (body.hunger > 70.0),
                energy_band,
                (body.caffeine > 30.0) + (body.caffeine > 80.0),
                (body.bladder > 40.0) + (body.bladder > 70.0),
                (body.stress > 40.0) + (body.stress > 70.0),
                social_band,
                sum(room.noise >= edge for edge in noise_edges) if room else 0,
                sum(room.co2 >= edge for edge in co2_edges) if room else 0,
                int(room is not None and room.temperature > p["hot_temperature"]),
            ]


class DecisionSystem(_System):
    """Age the queue, then add reasons (dedup, bounded, urgent ones displace the rest)."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        sh = self.shared
        ttls = [int(v) for v in sh.params.tables["ttl"]]
        started = [c for c in sh.chaos if c.started == 1 and c.left > 0]
        for entity, (body, traits, duty, place) in esper.get_components(Body, Traits, Duty, Place):
            if duty.active != 1:
                continue
            mood = esper.component_for_entity(entity, Mood)
            mind = esper.component_for_entity(entity, Mind)
            for slot, priority in enumerate(mind.priority):
                if priority != EMPTY_PRIORITY:
                    mind.ttl[slot] -= 1
                    if mind.ttl[slot] == 0:
                        mind.priority[slot], mind.reason[slot] = EMPTY_PRIORITY, 0
            h, e, b, s = body.hunger, body.energy, body.bladder, body.stress
            wanted: list[tuple[int, int, bool]] = [
                (0, Reason.BLADDER_CRITICAL, b > 95.0),
                (0, Reason.EXHAUSTED, e < 10.0),
                (0, Reason.STARVING, h > 95.0),
                (0, Reason.STRESS_CRITICAL, s > 90.0),
                (1, Reason.BLADDER_URGENT, 70.0 < b <= 95.0),
                (1, Reason.HUNGRY, 80.0 < h <= 95.0),
                (1, Reason.TIRED, 10.0 <= e < 30.0),
                (1, Reason.IN_MEETING, _in_meeting(sh, place)),
                (2, Reason.STRESSED, 60.0 < s <= 90.0),
                (2, Reason.NEEDS_COFFEE, body.caffeine < 20.0 and traits.caffeine_tolerance > 0.3),
                (3, Reason.BORED, mood.emotion == Emotion.BORED),
            ]
            wanted += [(3, Reason.CHAOS_BASE + c.number, place.room == c.room) for c in started]
            for priority, code, want in wanted:
                if want:
                    self._insert(mind, priority, int(code), ttls)

    def _insert(self, mind: Mind, priority: int, code: int, ttls: list[int]) -> None:
        stats = self.shared.stats
        for slot, existing in enumerate(mind.priority):
            if existing == priority and mind.reason[slot] == code:
                return
        if EMPTY_PRIORITY in mind.priority:
            slot = mind.priority.index(EMPTY_PRIORITY)
        else:
            slot = mind.priority.index(max(mind.priority))
            if mind.priority[slot] <= priority:
                stats[Stat.DECISIONS_DROPPED] += 1
                return
        mind.priority[slot], mind.reason[slot], mind.ttl[slot] = priority, code, ttls[priority]
        stats[Stat.DECISIONS_QUEUED] += 1


class OutputSystem(_System):
    """Nothing to compute: the host reads components after a step."""

    def process(self) -> None:
        """Do nothing (kept so the phase order is visible in the processor list)."""


class PersistSystem(_System):
    """Advance the clock."""

    def process(self) -> None:
        """Run this phase once over every entity."""
        self.shared.tick += 1


PROCESSORS: Final = (
    InputSystem, BiologySystem, PhysicsSystem, TransitSystem, ChaosSystem, MoodSystem,
    PerceptionSystem, DecisionSystem, OutputSystem, PersistSystem,
)  # fmt: skip
"""One processor per phase, in :data:`~sentinel.world.layout.PHASES` order."""


def _air(table: np.ndarray[Any, Any], room: int, is_open: int) -> tuple[float, float, float, float]:
    return (
        float(table[room, AIR_HEAT_RISE, is_open]),
        float(table[room, AIR_WINDOW_SHIFT, is_open]),
        float(table[room, AIR_CO2_RISE, is_open]),
        float(table[room, AIR_CO2_KEEP, is_open]),
    )


class OracleWorld:
    """An esper world holding a copy of a state; :meth:`export` writes it back.

    Args:
        state: Component arrays (copied in; the arrays are not modified).
        params: The world's parameters.
    """

    def __init__(self, state: State, params: WorldParams) -> None:
        self.params = params
        self.name = f"sentinel-oracle-{next(_worlds)}"
        previous = esper.current_world
        esper.switch_world(self.name)
        try:
            self._build(state)
        finally:
            esper.switch_world(previous)

    def _build(self, state: State) -> None:
        t = self.params.tables
        self.shared = Shared(
            params=self.params,
            p={name: float(v) for name, v in zip(PARAM_NAMES, self.params.scalars, strict=True)},
            tick=int(state["tick"][0]),
            seed=int(state["seed"][0]),
            ac_offset=float(state["ac_offset"][0]),
            stats=[int(v) for v in state["stats"]],
        )
        rooms = len(self.params.room_ids)
        for r in range(rooms):
            self.shared.rooms.append(
                RoomState(
                    number=r,
                    code=int(t["room_code"][r]),
                    has_window=int(t["room_window"][r]),
                    air=(_air(t["room_air"], r, 0), _air(t["room_air"], r, 1)),
                    neighbours=[int(v) for v in t["neighbours"][r]],
                    window_open=int(state["window_open"][r]),
                    has_door=int(t["room_door"][r]),
                    door_closed=int(state["door_closed"][r]),
                    street=[float(v) for v in t["street_noise"][r]],
                    noise=float(state["noise"][r]),
                    temperature=float(state["temperature"][r]),
                    co2=float(state["co2"][r]),
                    occupancy=int(state["occupancy"][r]),
                    thermostat=float(state["thermostat"][r]),
                )
            )
            esper.create_entity(self.shared.rooms[-1])
        for k in range(len(state["chaos_left"])):
            chaos = ChaosState(
                number=k,
                left=int(state["chaos_left"][k]),
                room=int(state["chaos_room"][k]),
                started=int(state["chaos_started"][k]),
            )
            self.shared.chaos.append(chaos)
            esper.create_entity(chaos)
        columns = {name: state[name].tolist() for name in state}
        agents = len(columns["hunger"])
        self.agents: list[int] = []
        for i in range(agents):
            c = {
                name: values[i]
                for name, values in columns.items()
                if len(values) == len(columns["hunger"])
            }
            body = Body(
                c["hunger"], c["energy"], c["bladder"], c["stress"], c["social"], c["caffeine"]
            )
            traits = Traits(
                c["extraversion"], c["neuroticism"], c["caffeine_tolerance"], c["morning_person"]
            )
            duty = Duty(
                c["shift_set"], c["active"], c["on_shift_ticks"], c["deadline"], c["conflict"],
                c["pending"],
            )  # fmt: skip
            place = Place(
                c["room"], c["destination"], c["transit_left"], c["move_order"], c["chat_left"],
                c["walk_paired"], c["arrival_left"], i,
            )  # fmt: skip
            mood = Mood(
                c["valence"], c["arousal"], c["emotion"], c["valence_impulse"],
                c["arousal_impulse"],
            )  # fmt: skip
            mind = Mind(
                list(c["perception"]), list(c["queue_priority"]), list(c["queue_reason"]),
                list(c["queue_ttl"]),
            )  # fmt: skip
            entity = esper.create_entity(body, traits, duty, place, mood, mind)
            self.agents.append(entity)
        for priority, processor in enumerate(reversed(PROCESSORS)):
            esper.add_processor(processor(self.shared), priority=priority)

    def step(self, ticks: int = 1) -> None:
        """Run ``ticks`` ticks (``esper.process()`` once per tick)."""
        previous = esper.current_world
        esper.switch_world(self.name)
        try:
            for _ in range(ticks):
                esper.process()
        finally:
            esper.switch_world(previous)

    def export(self, state: State) -> None:
        """Write the esper world's components back into ``state``'s arrays."""
        previous = esper.current_world
        esper.switch_world(self.name)
        try:
            sh = self.shared
            state["tick"][0] = sh.tick
            state["ac_offset"][0] = sh.ac_offset
            state["stats"][:] = sh.stats
            for name in ("noise", "temperature", "co2", "occupancy"):
                state[name][:] = [getattr(room, name) for room in sh.rooms]
            state["chaos_left"][:] = [c.left for c in sh.chaos]
            state["chaos_room"][:] = [c.room for c in sh.chaos]
            state["chaos_started"][:] = [c.started for c in sh.chaos]
            rows: list[tuple[Any, ...]] = [
                esper.components_for_entity(entity) for entity in self.agents
            ]
            by_type: list[dict[type, Any]] = [{type(c): c for c in row} for row in rows]
            for name, kind in (
                ("hunger", Body), ("energy", Body), ("bladder", Body), ("stress", Body),
                ("social", Body), ("caffeine", Body), ("active", Duty), ("pending", Duty),
                ("on_shift_ticks", Duty), ("room", Place), ("destination", Place),
                ("transit_left", Place), ("move_order", Place), ("chat_left", Place),
                ("walk_paired", Place), ("arrival_left", Place), ("valence", Mood),
                ("arousal", Mood), ("emotion", Mood), ("valence_impulse", Mood),
                ("arousal_impulse", Mood),
            ):  # fmt: skip
                state[name][:] = [getattr(row[kind], name) for row in by_type]
            minds = [row[Mind] for row in by_type]
            state["perception"][:] = np.array([m.perception for m in minds], dtype=np.uint8)
            state["queue_priority"][:] = np.array([m.priority for m in minds], dtype=np.uint8)
            state["queue_reason"][:] = np.array([m.reason for m in minds], dtype=np.uint8)
            state["queue_ttl"][:] = np.array([m.ttl for m in minds], dtype=np.uint16)
        finally:
            esper.switch_world(previous)

    def close(self) -> None:
        """Delete the esper world."""
        if esper.current_world == self.name:
            esper.switch_world("default")
        esper.delete_world(self.name)


def step(state: State, params: WorldParams, ticks: int = 1) -> None:
    """Run ``ticks`` ticks through a fresh esper world and write the result into ``state``."""
    world = OracleWorld(state, params)
    try:
        world.step(ticks)
        world.export(state)
    finally:
        world.close()
