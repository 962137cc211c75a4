"""Parameters of a world: the scalar vector and the lookup tables, from a company's config.

Everything that needs a transcendental function (sin for the circadian curve and the sun,
exp for Poisson probabilities and caffeine decay, powers of ten for decibels) is evaluated
here, once, in Python, and handed to the systems as numbers or tables. The systems
themselves only add, subtract, multiply, divide, compare, take minima and maxima, and
floor: operations IEEE 754 rounds the same way in numpy, in Rust and in plain Python. That
is why the native systems, the numpy reference and the esper oracle agree bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentinel.config.rooms import ARRIVAL_KINDS, FloorPlan, RoomKind
from sentinel.config.simulation import Simulation
from sentinel.world.layout import CHAOS_ROOM_RANDOM, PARAM_NAMES, RoomCode

MINUTES_PER_DAY: Final = 1440
AC_CHAOS: Final = "ac_broken"
"""The chaos kind that heats the building while it lasts."""
SECONDS_PER_HOUR: Final = 3600.0
NOISE_BANDS_DB: Final = (35.0, 50.0, 65.0, 80.0)
"""quiet < 35 <= normal < 50 <= lively < 65 <= loud < 80 <= unbearable (reference bands)."""
CO2_BANDS_PPM: Final = (600.0, 1000.0, 1500.0)
"""fresh < 600 <= normal < 1000 <= stuffy < 1500 <= headache (reference bands)."""
HOT_TEMPERATURE: Final = 26.0
"""Above this a room feels hot (the gateway fingerprint's TMP bit)."""
STRESS_WEIGHTS: Final = (0.3, 0.3, 0.2, 0.2)
"""Meeting, deadline, conflict and hunger shares of the stress target (reference)."""
ENERGY_HUNGER_PENALTY: Final = (70.0, 30.0, 20.0)
"""Hunger above 70 costs up to 20 energy at hunger 100 (reference)."""
ENERGY_STRESS_PENALTY: Final = 15.0
CAFFEINE_FULL_MG: Final = 95.0
"""One coffee gives the full caffeine boost (reference)."""
CAFFEINE_BOOST: Final = 10.0
VALENCE_GAINS: Final = (0.4, 0.3, 0.15, 0.15)
"""Energy, stress, hunger and social weights of valence (reference)."""
AROUSAL_GAINS: Final = (0.5, 0.3, 200.0, 0.04)
"""Stress weight, caffeine weight, caffeine for full arousal, meeting term 0.2 * 0.2."""
VALENCE_TEMPERAMENT_GAIN: Final = 0.3
"""Ours: a persona's temperament shifts its valence by ``0.3 * (extraversion -
neuroticism)`` (up to +-0.3: extraversion goes with positive, neuroticism with negative
affect, Costa & McCrae 1980), so equal bodies do not feel the same."""
VALENCE_NEUTRAL_BAND: Final = 0.1
"""Ours: a valence within +-0.1 is neither pleasant nor unpleasant, so focused, bored and
neutral can be felt (the reference's ladder tested ``valence > 0`` and ``< 0`` first,
which left them to a valence of exactly 0.0: never, in a shift)."""
MOOD_IMPULSE_HALF_LIFE_MINUTES: Final = 20.0
"""Ours: an event's mood impulse (a good lunch, a failed task, a chat) halves in 20 minutes."""


def power(db: float) -> float:
    """Decibels to linear power (``10 ** (db / 10)``)."""
    return float(10.0 ** (db / 10.0))


def decibels(power_value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Linear power to decibels."""
    return np.asarray(10.0 * np.log10(np.asarray(power_value, dtype=np.float64)))


def _room_code(kind: RoomKind) -> RoomCode:
    return {
        RoomKind.KITCHEN: RoomCode.KITCHEN,
        RoomKind.BATHROOM: RoomCode.BATHROOM,
        RoomKind.MEETING: RoomCode.MEETING,
        RoomKind.ENTRANCE: RoomCode.ENTRANCE,
    }.get(kind, RoomCode.OTHER)


@dataclass(frozen=True)
class WorldParams:
    """Scalars and tables the systems read (never written by a tick).

    Attributes:
        scalars: float64 vector in :data:`PARAM_NAMES` order.
        tables: Named arrays (see :func:`build_params`).
        room_ids: Room number -> room id.
        chaos_names: Chaos kind number -> name.
    """

    scalars: npt.NDArray[np.float64]
    tables: dict[str, npt.NDArray[Any]]
    room_ids: tuple[str, ...]
    chaos_names: tuple[str, ...]
    queue_size: int
    simulation: Simulation = field(repr=False)

    def scalar(self, name: str) -> float:
        """One scalar by name."""
        return float(self.scalars[PARAM_NAMES.index(name)])


def _transit_ticks(plan: FloorPlan, sim: Simulation) -> npt.NDArray[np.int32]:
    ids = [room.id for room in plan.rooms]
    table = np.zeros((len(ids), len(ids)), dtype=np.int32)
    for a, start in enumerate(ids):
        hops = plan.hops_from(start)
        for b, goal in enumerate(ids):
            if a == b:
                continue
            seconds = min(
                sim.transit.max_seconds,
                max(sim.transit.min_seconds, hops[goal] * sim.transit.seconds_per_hop),
            )
            table[a, b] = max(1, math.ceil(seconds / sim.time_scale))
    return table


def _neighbours(plan: FloorPlan) -> npt.NDArray[np.int32]:
    """Adjacency padded to the widest room; padding points at the extra zero slot ``R``."""
    order = plan.index()
    lists = plan.neighbours()
    width = max(len(others) for others in lists.values())
    table = np.full((len(plan.rooms), width), len(plan.rooms), dtype=np.int32)
    for room in plan.rooms:
        for column, other in enumerate(lists[room.id]):
            table[order[room.id], column] = order[other]
    return table


def _threshold(probability: float) -> int:
    """A uint64 ``u`` is below it with ``probability`` (u uniform over 0 .. 2**64 - 1)."""
    return min(2**64 - 1, int(probability * 2.0**64))


def _chaos_tables(plan: FloorPlan, sim: Simulation) -> dict[str, npt.NDArray[Any]]:
    thresholds, durations, factors, rooms = [], [], [], []
    for kind in sim.chaos:
        probability = 1.0 - math.exp(-kind.per_hour / SECONDS_PER_HOUR * sim.time_scale)
        thresholds.append(_threshold(probability))
        durations.append(kind.duration_ticks)
        factors.append(power(kind.noise_db))
        fixed = CHAOS_ROOM_RANDOM
        if kind.room_kind is not None:
            fixed = next(
                (n for n, room in enumerate(plan.rooms) if room.kind is kind.room_kind),
                CHAOS_ROOM_RANDOM,
            )
        rooms.append(fixed)
    return {
        "chaos_threshold": np.array(thresholds, dtype=np.uint64),
        "chaos_duration": np.array(durations, dtype=np.int32),
        "chaos_factor": np.array(factors, dtype=np.float64),
        "chaos_fixed_room": np.array(rooms, dtype=np.int32),
    }


AIR_HEAT_CAPACITY_WH_M3K: Final = 1.2 * 1005.0 / 3600.0
"""Volumetric heat capacity of air: 1.2 kg/m3 times 1005 J/(kg K), in Wh/(m3 K)."""
PPM: Final = 1e6
AIR_HEAT_RISE, AIR_WINDOW_SHIFT, AIR_CO2_RISE, AIR_CO2_KEEP = range(4)
"""Rows of a room's ``room_air`` entry (each has a column for closed and open windows)."""


def room_air(plan: FloorPlan, sim: Simulation) -> npt.NDArray[np.float64]:
    """Per room and window state (closed, open): the heat and CO2 balances' coefficients.

    A room of capacity ``c`` has volume ``V = c * volume_per_place`` and exchanges outdoor
    air at ``Q = V * (infiltration + ventilation * ventilation_per_hour [+ window_per_hour])``
    m3/h. CO2 (ppm) follows ``dC/dt = G n / V - Q / V (C - C_out)``; over a tick of ``dt``
    hours with ``n`` constant the exact solution is
    ``C' = C_eq + (C - C_eq) * exp(-Q dt / V)`` with ``C_eq = C_out + n * G / Q``: the
    table holds ``G / Q`` (ppm per person) and ``exp(-Q dt / V)``. Heat: the setpoint
    pulls with ``H = hvac * c + rho_c * Q_tempered`` W/K (mechanical air arrives tempered),
    open windows bring outdoor air (``rho_c * Q_window`` W/K towards the outside
    temperature), each person adds ``heat_per_person`` W; the steady state is
    ``T_set + window_shift + n * heat_rise`` with ``heat_rise = P / H_total`` and
    ``window_shift = rho_c Q_window (T_out - T_set) / H_total``. Every entry is finite and
    the keep factors lie in (0, 1), so the balances converge from any start.
    """
    phys = sim.physics
    dt_h = sim.time_scale / SECONDS_PER_HOUR
    table = np.zeros((len(plan.rooms), 4, 2), dtype=np.float64)
    for r, room in enumerate(plan.rooms):
        volume = room.capacity * phys.volume_per_place_m3
        tempered = volume * (
            phys.infiltration_per_hour + room.ventilation * phys.ventilation_per_hour
        )
        for is_open in (0, 1):
            windowed = volume * phys.window_per_hour if is_open and room.has_window else 0.0
            flow = tempered + windowed
            pull = phys.hvac_w_per_k_per_place * room.capacity + AIR_HEAT_CAPACITY_WH_M3K * (
                tempered + windowed
            )
            table[r, AIR_HEAT_RISE, is_open] = phys.heat_per_person_w / pull
            table[r, AIR_WINDOW_SHIFT, is_open] = (
                AIR_HEAT_CAPACITY_WH_M3K
                * windowed
                * (phys.outside_temperature - phys.base_temperature)
                / pull
            )
            table[r, AIR_CO2_RISE, is_open] = phys.co2_per_person_l_h / 1000.0 / flow * PPM
            table[r, AIR_CO2_KEEP, is_open] = math.exp(-flow / volume * dt_h)
    return table


DOORLESS_KINDS: Final = frozenset({RoomKind.CORRIDOR, RoomKind.STAIRWELL})
"""Ours: corridors and the stairwell are the halls other rooms open onto; they have no door
of their own (a door on the floor graph's edge belongs to the room off the hall)."""
NIGHT_HOURS: Final = frozenset({22, 23, 0, 1, 2, 3, 4, 5})
"""Hours of the night for the street's noise (the L_night period of EU Directive 2002/49/EC)."""
HOURS_PER_DAY: Final = 24


def street_noise(plan: FloorPlan, sim: Simulation) -> npt.NDArray[np.float64]:
    """Per room and hour of the day: the outdoor noise an open window lets in (linear power).

    ``street_db`` at the ground floor, ``street_floor_drop_db`` less per floor up,
    ``street_night_drop_db`` less at night, minus what the open window still takes off
    (``window_open_attenuation_db``). Rooms without a window hear none of it.
    """
    phys = sim.physics
    table = np.zeros((len(plan.rooms), HOURS_PER_DAY), dtype=np.float64)
    for r, room in enumerate(plan.rooms):
        if not room.has_window:
            continue
        for hour in range(HOURS_PER_DAY):
            level = (
                phys.street_db
                - room.floor * phys.street_floor_drop_db
                - (phys.street_night_drop_db if hour in NIGHT_HOURS else 0.0)
                - phys.window_open_attenuation_db
            )
            table[r, hour] = power(level)
    return table


def spawn_order(plan: FloorPlan) -> npt.NDArray[np.int32]:
    """Rooms arriving agents fill, in order: the entrance, then the nearest by hops.

    An arriving agent takes the first room of this order with a free place (capacity);
    ties in distance go by :data:`~sentinel.config.rooms.ARRIVAL_KINDS`, then room order.
    """
    entrance = next((r for r in plan.rooms if r.kind is RoomKind.ENTRANCE), plan.rooms[0])
    hops = plan.hops_from(entrance.id)
    order = [r.id for r in plan.rooms]
    rank = {kind: n for n, kind in enumerate(ARRIVAL_KINDS)}
    candidates = [r for r in plan.rooms if r.kind in rank or r is entrance]
    candidates.sort(
        key=lambda r: (r is not entrance, hops[r.id], rank.get(r.kind, 0), order.index(r.id))
    )
    return np.array([order.index(r.id) for r in candidates], dtype=np.int32)


def build_params(sim: Simulation, plan: FloorPlan) -> WorldParams:
    """Derive the parameter vector and tables of a world from its configuration."""
    bio, phys = sim.biology, sim.physics
    dt_h = sim.time_scale / SECONDS_PER_HOUR
    w_meeting, w_deadline, w_conflict, w_hunger = STRESS_WEIGHTS
    _, hunger_span, hunger_cost = ENERGY_HUNGER_PENALTY
    v_energy, v_stress, v_hunger, v_social = VALENCE_GAINS
    a_stress, a_caffeine, a_caffeine_full, a_meeting = AROUSAL_GAINS
    values = {
        "time_scale": sim.time_scale,
        "start_second": sim.start_hour * SECONDS_PER_HOUR,
        "hunger_rate": bio.hunger_per_hour * dt_h,
        "bladder_rate": bio.bladder_per_hour * dt_h,
        "bladder_caffeine_factor": bio.bladder_caffeine_factor,
        "bladder_caffeine_mg": bio.bladder_caffeine_mg,
        "social_extravert": bio.social_extravert_per_hour * dt_h,
        "social_introvert": bio.social_introvert_per_hour * dt_h,
        "social_company": bio.social_company_per_hour * dt_h,
        "extravert_threshold": bio.extravert_threshold,
        "caffeine_decay": 0.5 ** (dt_h / bio.caffeine_half_life_hours),
        "coffee_mg": bio.coffee_mg,
        "meal_energy": bio.meal_energy,
        "meal_hunger": bio.meal_hunger,
        "energy_gain": min(1.0, dt_h / bio.energy_time_constant_hours),
        "stress_gain": min(1.0, dt_h / bio.stress_time_constant_hours),
        "drain_per_hour": bio.work_drain_per_hour_on_shift,
        "dt_hours": dt_h,
        "stress_meeting_term": w_meeting * bio.stress_meeting,
        "stress_deadline_term": w_deadline * bio.stress_deadline,
        "stress_conflict_term": w_conflict * bio.stress_conflict,
        "stress_hunger_gain": w_hunger * 100.0 / 50.0,
        "energy_hunger_gain": hunger_cost / hunger_span,
        "energy_stress_gain": ENERGY_STRESS_PENALTY / 100.0,
        "caffeine_norm": 1.0 / CAFFEINE_FULL_MG,
        "caffeine_boost": CAFFEINE_BOOST,
        "ambient_power": power(phys.ambient_db),
        "speaker_power": power(phys.speaker_db),
        "meeting_power": power(phys.meeting_db),
        "leak_factor": power(-phys.leak_attenuation_db),
        "noise_cap_power": power(phys.noise_cap_db),
        "base_temperature": phys.base_temperature,
        "temperature_keep": math.exp(-dt_h / phys.temperature_time_constant_hours),
        "sun_gain": phys.sun_gain,
        "ac_step": phys.ac_broken_per_hour * dt_h,
        "ac_max": phys.ac_broken_max,
        "co2_outdoor": phys.co2_outdoor_ppm,
        "valence_energy_gain": v_energy / 50.0,
        "valence_stress_gain": v_stress / 100.0,
        "valence_hunger_gain": v_hunger / 70.0,
        "valence_social_gain": v_social / 30.0,
        "arousal_stress_gain": a_stress / 100.0,
        "arousal_caffeine_norm": 1.0 / a_caffeine_full,
        "arousal_caffeine_gain": a_caffeine,
        "arousal_meeting": a_meeting,
        "spawn_hunger": bio.spawn_hunger,
        "spawn_energy": bio.spawn_energy,
        "spawn_bladder": bio.spawn_bladder,
        "spawn_stress": bio.spawn_stress,
        "spawn_social": bio.spawn_social,
        "noise_quiet": power(NOISE_BANDS_DB[0]),
        "noise_normal": power(NOISE_BANDS_DB[1]),
        "noise_lively": power(NOISE_BANDS_DB[2]),
        "noise_loud": power(NOISE_BANDS_DB[3]),
        "co2_fresh": CO2_BANDS_PPM[0],
        "co2_normal": CO2_BANDS_PPM[1],
        "co2_stuffy": CO2_BANDS_PPM[2],
        "hot_temperature": HOT_TEMPERATURE,
        "door_factor": power(-phys.door_closed_attenuation_db),
        "valence_temperament_gain": VALENCE_TEMPERAMENT_GAIN,
        "mood_impulse_keep": 0.5 ** (sim.time_scale / (MOOD_IMPULSE_HALF_LIFE_MINUTES * 60.0)),
        "valence_neutral_band": VALENCE_NEUTRAL_BAND,
    }
    scalars = np.array([values[name] for name in PARAM_NAMES], dtype=np.float64)
    minutes = np.arange(MINUTES_PER_DAY) / 60.0
    circadian = np.empty((2, MINUTES_PER_DAY), dtype=np.float64)
    for minute, hour in enumerate(minutes):
        circadian[0, minute] = bio.evening_base + bio.circadian_amplitude * math.sin(
            (hour - bio.evening_phase_hour) * math.pi / 12.0
        )
        circadian[1, minute] = bio.morning_base + bio.circadian_amplitude * math.sin(
            (hour - bio.morning_phase_hour) * math.pi / 12.0
        )
    sun = np.array([max(0.0, math.sin((h - 6.0) * math.pi / 12.0)) for h in minutes])
    shift_hours = {shift.hours for shift in sim.shifts}
    shift_ticks = max(1, round(max(shift_hours) * SECONDS_PER_HOUR / sim.time_scale))
    entrance = next((n for n, room in enumerate(plan.rooms) if room.kind is RoomKind.ENTRANCE), 0)
    names = [kind.name for kind in sim.chaos]
    ac_kind = names.index(AC_CHAOS) if AC_CHAOS in names else -1
    tables: dict[str, npt.NDArray[Any]] = {
        "circadian": circadian,
        "sun": sun.astype(np.float64),
        "shift_by_hour": np.array([sim.shift_at(h) for h in range(24)], dtype=np.uint8),
        "ints": np.array([shift_ticks, entrance, ac_kind, sim.transit.chat_ticks], dtype=np.int64),
        "room_floor": np.array([r.floor for r in plan.rooms], dtype=np.uint8),
        "meet_threshold": np.array([_threshold(sim.transit.meet_probability)], dtype=np.uint64),
        "room_code": np.array([_room_code(r.kind) for r in plan.rooms], dtype=np.uint8),
        "room_window": np.array([r.has_window for r in plan.rooms], dtype=np.uint8),
        "room_air": room_air(plan, sim),
        "room_door": np.array([r.kind not in DOORLESS_KINDS for r in plan.rooms], dtype=np.uint8),
        "street_noise": street_noise(plan, sim),
        "room_capacity": np.array([r.capacity for r in plan.rooms], dtype=np.int32),
        "spawn_order": spawn_order(plan),
        "neighbours": _neighbours(plan),
        "transit_ticks": _transit_ticks(plan, sim),
        "ttl": np.array(sim.decisions.ttl_ticks[:4], dtype=np.uint16),
        **_chaos_tables(plan, sim),
    }
    return WorldParams(
        scalars=scalars,
        tables=tables,
        room_ids=tuple(room.id for room in plan.rooms),
        chaos_names=tuple(kind.name for kind in sim.chaos),
        queue_size=sim.decisions.queue_size,
        simulation=sim,
    )
