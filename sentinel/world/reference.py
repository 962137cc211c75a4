"""The world's systems in numpy: the reference the native systems are pinned to.

One function per phase, in :data:`~sentinel.world.layout.PHASES` order, each reading and
writing the state's component arrays in place. Operation order matters for bit-exact
agreement: every float expression here is written exactly as the native code
(``native/sentinel-core/src/world.rs``) and the esper oracle write it, term by term, and no
reduction uses numpy's pairwise summation (neighbour sums run column by column).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

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
from sentinel.world.state import State

F64 = npt.NDArray[np.float64]

P: Final = {name: index for index, name in enumerate(PARAM_NAMES)}
SPLITMIX_GAMMA: Final = 0x9E3779B97F4A7C15
CHAOS_STREAM: Final = 0xD1B54A32D192ED03
MEET_STREAM: Final = 0x8CB92BA72F3D8DD7
"""Odd constants that separate the random streams of ticks, chaos kinds and meetings."""


def splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's output function over uint64 arrays (wrapping arithmetic)."""
    z = x + np.uint64(SPLITMIX_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def clock(state: State, params: WorldParams) -> tuple[int, int]:
    """(minute of the day, hour of the day) at the state's tick."""
    s = params.scalars
    seconds = s[P["start_second"]] + float(state["tick"][0]) * s[P["time_scale"]]
    minute = int(np.floor(seconds / 60.0)) % 1440
    return minute, minute // 60


def _f(state: State, name: str) -> F64:
    return state[name]


def _clear_queue(state: State, who: npt.NDArray[np.bool_]) -> None:
    state["queue_priority"][who] = EMPTY_PRIORITY
    state["queue_reason"][who] = 0
    state["queue_ttl"][who] = 0


def spawn_rooms(
    state: State, params: WorldParams, count: int, staying: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int32]:
    """Rooms for ``count`` arriving agents, in agent order.

    Each takes the first room of ``spawn_order`` with a free place, counting the agents
    placed at the start of the tick who stay on duty (``staying``; the leaving shift goes
    first) and the arrivals before it; when the building is full, the first room (the
    entrance).
    """
    t = params.tables
    rooms = t["room_code"].shape[0]
    room = state["room"]
    placed = (state["active"] == 1) & (room >= 0) & staying
    present = np.bincount(room[placed], minlength=rooms).astype(np.int64)
    order = t["spawn_order"].astype(np.intp)
    free = np.maximum(0, t["room_capacity"][order].astype(np.int64) - present[order])
    position = np.searchsorted(np.cumsum(free), np.arange(count), side="right")
    fits = position < order.shape[0]
    chosen = order[np.minimum(position, order.shape[0] - 1)]
    rooms_chosen: npt.NDArray[np.int32] = np.where(fits, chosen, order[0]).astype(np.int32)
    return rooms_chosen


def _shift_change(state: State, params: WorldParams) -> None:
    """Agents of the shift set on duty (and set 0) arrive; the others leave."""
    s, t = params.scalars, params.tables
    stats = state["stats"]
    _, hour = clock(state, params)
    current = t["shift_by_hour"][hour]
    shift_set, active = state["shift_set"], state["active"]
    should = (shift_set == 0) | (shift_set == current)
    outside = should & (active == 0)
    arrival_left = state["arrival_left"]
    held = outside & (arrival_left > 0)
    arrival_left[held] -= 1  # still on the way in: not in any room, head count or air
    spawn = outside & ~held
    retire = ~should & (active == 1)
    if spawn.any():
        state["room"][spawn] = spawn_rooms(state, params, int(spawn.sum()), should)
        active[spawn] = 1
        state["on_shift_ticks"][spawn] = 0
        for need in ("hunger", "energy", "bladder", "stress", "social"):
            _f(state, need)[spawn] = s[P[f"spawn_{need}"]]
        _f(state, "caffeine")[spawn] = 0.0
        stats[Stat.SPAWNED] += int(spawn.sum())
    if retire.any():
        active[retire] = 0
        state["room"][retire] = -1
        state["perception"][retire] = 0
        stats[Stat.RETIRED] += int(retire.sum())
    changed = spawn | retire
    state["chat_left"][changed] = 0
    state["walk_paired"][changed] = 0
    state["destination"][changed] = -1
    state["transit_left"][changed] = 0
    state["move_order"][changed] = -1
    state["pending"][changed] = 0
    _clear_queue(state, changed)


def phase_input(state: State, params: WorldParams) -> None:
    """Shift changes (spawn and retire), then pending actions and move orders."""
    s, t = params.scalars, params.tables
    stats = state["stats"]
    _shift_change(state, params)
    active = state["active"]
    on = active == 1
    room = state["room"]
    code = np.where(room >= 0, t["room_code"][np.maximum(room, 0)], 255)
    pending = state["pending"]
    coffee = on & (pending == Action.COFFEE) & (code == RoomCode.KITCHEN)
    meal = on & (pending == Action.MEAL) & (code == RoomCode.KITCHEN)
    relieve = on & (pending == Action.RELIEVE) & (code == RoomCode.BATHROOM)
    caffeine, hunger, energy = _f(state, "caffeine"), _f(state, "hunger"), _f(state, "energy")
    caffeine[coffee] = caffeine[coffee] + s[P["coffee_mg"]]
    hunger[meal] = np.maximum(0.0, hunger[meal] - s[P["meal_hunger"]])
    energy[meal] = np.minimum(100.0, energy[meal] + s[P["meal_energy"]])
    _f(state, "bladder")[relieve] = 0.0
    done = coffee | meal | relieve
    stats[Stat.ACTIONS_DONE] += int(done.sum())
    stats[Stat.ACTIONS_REFUSED] += int((on & (pending != 0) & ~done).sum())
    pending[:] = 0
    order = state["move_order"]
    moving = on & (order >= 0) & (room >= 0) & (order != room)
    if moving.any():
        state["walk_paired"][moving] = 0
        state["destination"][moving] = order[moving]
        state["transit_left"][moving] = t["transit_ticks"][room[moving], order[moving]]
        room[moving] = -1
    order[:] = -1


def phase_biology(state: State, params: WorldParams) -> None:
    """Needs, caffeine, stress and energy of agents on duty."""
    s, t = params.scalars, params.tables
    on = state["active"] == 1
    room = state["room"]
    occupancy = state["occupancy"]
    here = np.maximum(room, 0)
    placed = room >= 0
    crowd = placed & (occupancy[here] >= 2)
    company = crowd | (state["chat_left"] > 0)
    meeting = crowd & (t["room_code"][here] == RoomCode.MEETING)
    hunger, bladder, social = _f(state, "hunger"), _f(state, "bladder"), _f(state, "social")
    caffeine, stress, energy = _f(state, "caffeine"), _f(state, "stress"), _f(state, "energy")
    hunger_new = np.minimum(100.0, hunger + s[P["hunger_rate"]])
    rate = np.where(
        caffeine > s[P["bladder_caffeine_mg"]],
        s[P["bladder_rate"]] * s[P["bladder_caffeine_factor"]],
        s[P["bladder_rate"]],
    )
    bladder_new = np.minimum(100.0, bladder + rate)
    drift = np.where(
        _f(state, "extraversion") >= s[P["extravert_threshold"]],
        s[P["social_extravert"]],
        s[P["social_introvert"]],
    )
    drift = np.where(company, drift + s[P["social_company"]], drift)
    social_new = np.minimum(100.0, np.maximum(0.0, social + drift))
    caffeine_new = caffeine * s[P["caffeine_decay"]]
    target = (
        (
            (
                np.where(meeting, s[P["stress_meeting_term"]], 0.0)
                + np.where(state["deadline"] == 1, s[P["stress_deadline_term"]], 0.0)
            )
            + np.where(state["conflict"] == 1, s[P["stress_conflict_term"]], 0.0)
        )
        + np.maximum(0.0, hunger_new - 50.0) * s[P["stress_hunger_gain"]]
    ) * (0.5 + 0.5 * _f(state, "neuroticism"))
    stress_new = stress + (target - stress) * s[P["stress_gain"]]
    minute, _ = clock(state, params)
    circadian = t["circadian"][state["morning_person"].astype(np.intp), minute]
    shift_ticks = int(t["ints"][0])
    hours_on = (state["on_shift_ticks"] % shift_ticks).astype(np.float64) * s[P["dt_hours"]]
    energy_target = (
        (
            (circadian - np.maximum(0.0, hunger_new - 70.0) * s[P["energy_hunger_gain"]])
            - stress_new * s[P["energy_stress_gain"]]
        )
        + np.minimum(1.0, caffeine_new * s[P["caffeine_norm"]])
        * (s[P["caffeine_boost"]] * (1.0 - 0.5 * _f(state, "caffeine_tolerance")))
    ) - hours_on * s[P["drain_per_hour"]]
    energy_new = energy + (energy_target - energy) * s[P["energy_gain"]]
    energy_new = np.minimum(100.0, np.maximum(0.0, energy_new))
    hunger[on] = hunger_new[on]
    bladder[on] = bladder_new[on]
    social[on] = social_new[on]
    caffeine[on] = caffeine_new[on]
    stress[on] = stress_new[on]
    energy[on] = energy_new[on]
    state["on_shift_ticks"][on] += 1


def phase_physics(state: State, params: WorldParams) -> None:
    """Head counts, noise (power sum with leakage from adjacent rooms), heat and CO2."""
    s, t = params.scalars, params.tables
    room = state["room"]
    rooms = t["room_code"].shape[0]
    placed = (state["active"] == 1) & (room >= 0)
    occupancy = np.bincount(room[placed], minlength=rooms).astype(np.int32)
    state["occupancy"][:] = occupancy
    heads = occupancy.astype(np.float64)
    own = np.full(rooms + 1, 0.0)
    talkers = np.where(occupancy >= 2, heads * s[P["speaker_power"]], 0.0)
    meeting = (t["room_code"] == RoomCode.MEETING) & (occupancy >= 2)
    own[:rooms] = (s[P["ambient_power"]] + talkers) + np.where(meeting, s[P["meeting_power"]], 0.0)
    left, where = state["chaos_left"], state["chaos_room"]
    factors = t["chaos_factor"]
    for kind in range(left.shape[0]):
        if left[kind] > 0 and where[kind] >= 0:
            own[where[kind]] = own[where[kind]] * factors[kind]
    minute, hour = clock(state, params)
    windowed = (state["window_open"] == 1) & (t["room_window"] == 1)
    own[:rooms] = np.where(windowed, own[:rooms] + t["street_noise"][:, hour], own[:rooms])
    # A closed door (of this room or of the neighbour) damps what leaks along that edge.
    shut = np.zeros(rooms + 1, dtype=np.bool_)
    shut[:rooms] = (state["door_closed"] == 1) & (t["room_door"] == 1)
    neighbours = t["neighbours"]
    leaked = np.zeros(rooms)
    for column in range(neighbours.shape[1]):
        other = neighbours[:, column]
        gain = np.where(shut[:rooms] | shut[other], s[P["door_factor"]], 1.0)
        leaked = leaked + own[other] * gain
    noise = own[:rooms] + leaked * s[P["leak_factor"]]
    _f(state, "noise")[:] = np.minimum(noise, s[P["noise_cap_power"]])
    # Heat and CO2: each room relaxes exactly (a precomputed exponential) to the steady
    # state of its balance for this tick's head count and window (see params.room_air).
    rows = np.arange(rooms)
    is_open = ((state["window_open"] == 1) & (t["room_window"] == 1)).astype(np.intp)
    air = t["room_air"]
    sun = np.where(t["room_window"] == 1, t["sun"][minute] * s[P["sun_gain"]], 0.0)
    target = (
        ((s[P["base_temperature"]] + air[rows, AIR_WINDOW_SHIFT, is_open]) + sun)
        + _f(state, "ac_offset")[0]
    ) + _f(state, "thermostat")
    target = target + heads * air[rows, AIR_HEAT_RISE, is_open]
    temperature = _f(state, "temperature")
    temperature[:] = target + (temperature - target) * s[P["temperature_keep"]]
    co2 = _f(state, "co2")
    steady = s[P["co2_outdoor"]] + heads * air[rows, AIR_CO2_RISE, is_open]
    co2[:] = steady + (co2 - steady) * air[rows, AIR_CO2_KEEP, is_open]


def meet_draws(seed: int, tick: int, first: npt.NDArray[np.intp]) -> npt.NDArray[np.uint64]:
    """The random words deciding whether walker pairs chat; one per pair's first agent."""
    n = first.shape[0]
    base = np.full(n, seed, dtype=np.uint64)
    base = base + np.full(n, tick, dtype=np.uint64) * np.uint64(SPLITMIX_GAMMA)
    base = base + (first.astype(np.uint64) + np.uint64(1)) * np.uint64(MEET_STREAM)
    return splitmix64(base)


def phase_transit(state: State, params: WorldParams) -> None:
    """Walkers meet (once per walk, pairs in agent order per destination floor), chat or walk.

    Walkers not yet paired on this walk are paired in agent order, separately for each
    destination floor; a pair chats with the configured probability, which holds both up
    for ``chat_ticks``. Chatting walkers count their chat down, the others their walk; on
    arrival they enter their destination.
    """
    t = params.tables
    walking = (state["active"] == 1) & (state["transit_left"] > 0)
    chat_left, paired = state["chat_left"], state["walk_paired"]
    idle = np.flatnonzero(walking & (chat_left == 0) & (paired == 0))
    floors = t["room_floor"][state["destination"][idle]]
    seed, tick = int(state["seed"][0]), int(state["tick"][0])
    for floor in range(int(t["room_floor"].max()) + 1):
        group = idle[floors == floor]
        first, second = group[0 : len(group) // 2 * 2 : 2], group[1::2]
        paired[first] = 1
        paired[second] = 1
        meet = meet_draws(seed, tick, first) < t["meet_threshold"][0]
        chat_left[first[meet]] = int(t["ints"][3])
        chat_left[second[meet]] = int(t["ints"][3])
        state["stats"][Stat.MEETINGS] += int(meet.sum())
    chatting = walking & (chat_left > 0)
    chat_left[chatting] -= 1
    stepping = walking & ~chatting
    state["transit_left"][stepping] -= 1
    arrived = stepping & (state["transit_left"] == 0)
    state["room"][arrived] = state["destination"][arrived]
    state["destination"][arrived] = -1
    state["stats"][Stat.ARRIVALS] += int(arrived.sum())


def chaos_draws(seed: int, tick: int, kinds: int) -> npt.NDArray[np.uint64]:
    """The chaos system's random words for one tick, one per kind."""
    base = np.full(kinds, seed, dtype=np.uint64)
    base = base + np.full(kinds, tick, dtype=np.uint64) * np.uint64(SPLITMIX_GAMMA)
    base = base + (np.arange(kinds, dtype=np.uint64) + np.uint64(1)) * np.uint64(CHAOS_STREAM)
    return splitmix64(base)


def phase_chaos(state: State, params: WorldParams) -> None:
    """Running disruptions count down; each idle kind may start (Poisson per tick)."""
    t = params.tables
    left, where, started = state["chaos_left"], state["chaos_room"], state["chaos_started"]
    kinds = left.shape[0]
    rooms = t["room_code"].shape[0]
    draws = chaos_draws(int(state["seed"][0]), int(state["tick"][0]), kinds)
    picks = splitmix64(draws) % np.uint64(rooms)
    started[:] = 0
    for kind in range(kinds):
        if left[kind] > 0:
            left[kind] -= 1
            if left[kind] == 0:
                where[kind] = -1
        elif draws[kind] < t["chaos_threshold"][kind]:
            left[kind] = t["chaos_duration"][kind]
            fixed = int(t["chaos_fixed_room"][kind])
            where[kind] = fixed if fixed >= 0 else int(picks[kind])
            started[kind] = 1
            state["stats"][Stat.CHAOS_STARTED] += 1
    ac = _f(state, "ac_offset")
    ac_kind = int(t["ints"][2])
    broken = ac_kind >= 0 and left[ac_kind] > 0
    ac[0] = min(params.scalar("ac_max"), ac[0] + params.scalar("ac_step")) if broken else 0.0


def phase_mood(state: State, params: WorldParams) -> None:
    """Valence, arousal and the emotion label of agents on duty."""
    s, t = params.scalars, params.tables
    on = state["active"] == 1
    room = state["room"]
    here = np.maximum(room, 0)
    meeting = (
        (room >= 0) & (state["occupancy"][here] >= 2) & (t["room_code"][here] == RoomCode.MEETING)
    )
    valence = (
        (
            (_f(state, "energy") - 50.0) * s[P["valence_energy_gain"]]
            - _f(state, "stress") * s[P["valence_stress_gain"]]
        )
        - np.maximum(0.0, _f(state, "hunger") - 30.0) * s[P["valence_hunger_gain"]]
    ) - np.maximum(0.0, _f(state, "social") - 70.0) * s[P["valence_social_gain"]]
    temperament = _f(state, "extraversion") - _f(state, "neuroticism")
    valence_impulse, arousal_impulse = _f(state, "valence_impulse"), _f(state, "arousal_impulse")
    valence = (valence + temperament * s[P["valence_temperament_gain"]]) + valence_impulse
    valence = np.minimum(1.0, np.maximum(-1.0, valence))
    arousal = (
        (
            _f(state, "stress") * s[P["arousal_stress_gain"]]
            + np.minimum(1.0, _f(state, "caffeine") * s[P["arousal_caffeine_norm"]])
            * s[P["arousal_caffeine_gain"]]
        )
        + np.where(meeting, s[P["arousal_meeting"]], 0.0)
    ) + arousal_impulse
    arousal = np.minimum(1.0, np.maximum(0.0, arousal))
    keep = s[P["mood_impulse_keep"]]
    valence_impulse[on] = valence_impulse[on] * keep
    arousal_impulse[on] = arousal_impulse[on] * keep
    band = s[P["valence_neutral_band"]]
    emotion = np.select(
        [
            (valence > 0.3) & (arousal > 0.5),
            valence > 0.3,
            valence > band,
            (valence < -0.3) & (arousal > 0.5),
            valence < -0.3,
            valence < -band,
            arousal > 0.5,
            arousal < 0.2,
        ],
        [
            Emotion.EXCITED,
            Emotion.RELAXED,
            Emotion.HAPPY,
            Emotion.STRESSED,
            Emotion.TIRED,
            Emotion.FRUSTRATED,
            Emotion.FOCUSED,
            Emotion.BORED,
        ],
        default=Emotion.NEUTRAL,
    ).astype(np.uint8)
    _f(state, "valence")[on] = valence[on]
    _f(state, "arousal")[on] = arousal[on]
    state["emotion"][on] = emotion[on]


def _band(value: F64, edges: tuple[float, ...]) -> npt.NDArray[np.uint8]:
    """Number of ``edges`` strictly below ``value`` (edges ascending)."""
    band = np.zeros(value.shape, dtype=np.uint8)
    for edge in edges:
        band += (value > edge).astype(np.uint8)
    return band


def phase_perception(state: State, params: WorldParams) -> None:
    """Quantize body and room into the bands the prompt compiler turns into text."""
    s = params.scalars
    on = state["active"] == 1
    room = state["room"]
    here = np.maximum(room, 0)
    placed = room >= 0
    energy = _f(state, "energy")
    bands = np.zeros(state["perception"].shape, dtype=np.uint8)
    bands[:, 0] = _band(_f(state, "hunger"), (40.0, 70.0))
    bands[:, 1] = np.select([energy < 30.0, energy < 50.0, energy > 85.0], [0, 1, 3], 2)
    bands[:, 2] = _band(_f(state, "caffeine"), (30.0, 80.0))
    bands[:, 3] = _band(_f(state, "bladder"), (40.0, 70.0))
    bands[:, 4] = _band(_f(state, "stress"), (40.0, 70.0))
    social = _f(state, "social")
    bands[:, 5] = np.select([social < 20.0, social > 70.0], [0, 2], 1)
    noise = _f(state, "noise")[here]
    noise_edges = tuple(
        float(s[P[name]]) for name in ("noise_quiet", "noise_normal", "noise_lively", "noise_loud")
    )
    bands[:, 6] = np.where(placed, _band_ge(noise, noise_edges), 0)
    co2 = _f(state, "co2")[here]
    co2_edges = tuple(float(s[P[name]]) for name in ("co2_fresh", "co2_normal", "co2_stuffy"))
    bands[:, 7] = np.where(placed, _band_ge(co2, co2_edges), 0)
    hot = _f(state, "temperature")[here] > s[P["hot_temperature"]]
    bands[:, 8] = (placed & hot).astype(np.uint8)
    state["perception"][on] = bands[on]


def _band_ge(value: F64, edges: tuple[float, ...]) -> npt.NDArray[np.uint8]:
    """Number of ``edges`` at or below ``value`` (``x < edge`` bands, edges ascending)."""
    band = np.zeros(value.shape, dtype=np.uint8)
    for edge in edges:
        band += (value >= edge).astype(np.uint8)
    return band


def decision_candidates(
    state: State, params: WorldParams
) -> list[tuple[int, int, npt.NDArray[np.bool_]]]:
    """(priority, reason, mask) of every condition, in insertion order."""
    hunger, energy = _f(state, "hunger"), _f(state, "energy")
    bladder, stress = _f(state, "bladder"), _f(state, "stress")
    room = state["room"]
    here = np.maximum(room, 0)
    meeting = (
        (room >= 0)
        & (state["occupancy"][here] >= 2)
        & (params.tables["room_code"][here] == RoomCode.MEETING)
    )
    candidates: list[tuple[int, int, npt.NDArray[np.bool_]]] = [
        (0, Reason.BLADDER_CRITICAL, bladder > 95.0),
        (0, Reason.EXHAUSTED, energy < 10.0),
        (0, Reason.STARVING, hunger > 95.0),
        (0, Reason.STRESS_CRITICAL, stress > 90.0),
        (1, Reason.BLADDER_URGENT, (bladder > 70.0) & (bladder <= 95.0)),
        (1, Reason.HUNGRY, (hunger > 80.0) & (hunger <= 95.0)),
        (1, Reason.TIRED, (energy >= 10.0) & (energy < 30.0)),
        (1, Reason.IN_MEETING, meeting),
        (2, Reason.STRESSED, (stress > 60.0) & (stress <= 90.0)),
        (
            2,
            Reason.NEEDS_COFFEE,
            (_f(state, "caffeine") < 20.0) & (_f(state, "caffeine_tolerance") > 0.3),
        ),
        (3, Reason.BORED, state["emotion"] == Emotion.BORED),
    ]
    left, where, started = state["chaos_left"], state["chaos_room"], state["chaos_started"]
    candidates.extend(
        (3, Reason.CHAOS_BASE + kind, room == where[kind])
        for kind in range(started.shape[0])
        if started[kind] == 1 and left[kind] > 0
    )
    return [(p, int(r), m) for p, r, m in candidates]


def phase_decision(state: State, params: WorldParams) -> None:
    """Age the queue, then queue new reasons: dedup by (priority, reason), keep the urgent."""
    on = state["active"] == 1
    prio, reason, ttl = state["queue_priority"], state["queue_reason"], state["queue_ttl"]
    stats = state["stats"]
    live = on[:, None] & (prio != EMPTY_PRIORITY)
    ttl[live] -= 1
    expired = live & (ttl == 0)
    prio[expired] = EMPTY_PRIORITY
    reason[expired] = 0
    ttls = params.tables["ttl"]
    rows = np.arange(prio.shape[0])
    for priority, code, mask in decision_candidates(state, params):
        want = on & mask
        if not want.any():
            continue
        present = ((prio == priority) & (reason == code)).any(axis=1)
        want &= ~present
        empty = prio == EMPTY_PRIORITY
        has_empty = empty.any(axis=1)
        first_empty = np.argmax(empty, axis=1)
        worst = np.argmax(prio, axis=1)  # first slot holding the least urgent entry
        replace = ~has_empty & (prio[rows, worst] > priority)
        slot = np.where(has_empty, first_empty, worst)
        take = want & (has_empty | replace)
        stats[Stat.DECISIONS_DROPPED] += int((want & ~take).sum())
        stats[Stat.DECISIONS_QUEUED] += int(take.sum())
        prio[rows[take], slot[take]] = priority
        reason[rows[take], slot[take]] = code
        ttl[rows[take], slot[take]] = ttls[priority]


def phase_output(state: State, params: WorldParams) -> None:
    """Nothing to compute: the host reads components and counters after ``step``."""
    del state, params


def phase_persist(state: State, params: WorldParams) -> None:
    """Advance the clock."""
    del params
    state["tick"][0] += 1


SYSTEMS: Final = (
    phase_input, phase_biology, phase_physics, phase_transit, phase_chaos, phase_mood,
    phase_perception, phase_decision, phase_output, phase_persist,
)  # fmt: skip


def step(state: State, params: WorldParams, ticks: int = 1) -> None:
    """Run ``ticks`` ticks of every system in phase order (the reference backend)."""
    for _ in range(ticks):
        for system in SYSTEMS:
            system(state, params)
