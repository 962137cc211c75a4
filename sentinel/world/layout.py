"""The world's data layout: component arrays, parameter vector and code tables.

Everything the native systems and the Python reference share by position is defined here
once: the component names and dtypes (the state), the order of the scalar parameters, the
phase order, and the codes of actions, emotions and decision reasons. The native module
reports its own parameter order (``_native.world_param_names()``) and a test pins the two.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np

PHASES: Final = (
    "input",
    "biology",
    "physics",
    "transit",
    "chaos",
    "mood",
    "perception",
    "decision",
    "output",
    "persist",
)
"""The fixed order of the systems within one tick."""

AGENT_F64: Final = (
    "hunger", "energy", "bladder", "stress", "social", "caffeine", "valence", "arousal",
    "extraversion", "neuroticism", "caffeine_tolerance", "valence_impulse", "arousal_impulse",
)  # fmt: skip
"""Per-agent float components (needs on 0-100, caffeine in mg, mood, traits, and the mood
impulses the host adds on events: the mood phase adds them and lets them fade)."""
AGENT_U8: Final = (
    "morning_person", "shift_set", "active", "emotion", "deadline", "conflict", "pending",
    "walk_paired",
)  # fmt: skip
"""Per-agent small integers: flags, shift set, emotion code, the pending action."""
AGENT_I32: Final = (
    "room", "destination", "transit_left", "move_order", "chat_left", "arrival_left",
)  # fmt: skip
"""Per-agent room numbers (-1: none / in transit), ticks left walking and chatting, and
ticks an agent whose shift is on still spends outside before it enters (a host input the
input phase counts down; 0 enters at once)."""
AGENT_I64: Final = ("on_shift_ticks",)
ROOM_F64: Final = ("noise", "temperature", "co2", "thermostat")
"""Per-room: noise as linear power (10^(dB/10)), degrees Celsius, CO2 ppm, and the
thermostat's offset from the building's setpoint in kelvin (an input the agents set)."""
ROOM_U8: Final = ("window_open", "door_closed")
"""Per-room inputs the agents set: windows open, door closed (0, the default, is open)."""
ROOM_I32: Final = ("occupancy",)
CHAOS_I32: Final = ("chaos_left", "chaos_room")
CHAOS_U8: Final = ("chaos_started",)
GLOBAL_I64: Final = ("tick", "stats")
"""``tick`` has one element; ``stats`` counts (see :class:`Stat`)."""
GLOBAL_F64: Final = ("ac_offset",)
GLOBAL_U64: Final = ("seed",)

PERCEPTION_CHANNELS: Final = (
    "hunger", "energy", "caffeine", "bladder", "stress", "social", "noise", "co2", "heat",
)  # fmt: skip
"""Columns of the ``perception`` component (uint8 bands per agent)."""


class Stat(IntEnum):
    """Counters in the ``stats`` component."""

    SPAWNED = 0
    RETIRED = 1
    ARRIVALS = 2
    ACTIONS_DONE = 3
    ACTIONS_REFUSED = 4
    CHAOS_STARTED = 5
    DECISIONS_QUEUED = 6
    DECISIONS_DROPPED = 7
    MEETINGS = 8


STAT_COUNT: Final = len(Stat)


class Action(IntEnum):
    """What the host can ask an agent's body to do (the ``pending`` component)."""

    NONE = 0
    COFFEE = 1
    MEAL = 2
    RELIEVE = 3


class Emotion(IntEnum):
    """Emotion codes, in the order the mood system tests them."""

    EXCITED = 0
    RELAXED = 1
    HAPPY = 2
    STRESSED = 3
    TIRED = 4
    FRUSTRATED = 5
    FOCUSED = 6
    BORED = 7
    NEUTRAL = 8


class RoomCode(IntEnum):
    """Room kinds as the native systems see them."""

    OTHER = 0
    KITCHEN = 1
    BATHROOM = 2
    MEETING = 3
    ENTRANCE = 4


class Reason(IntEnum):
    """Why an entry is in an agent's decision queue; chaos kinds follow from CHAOS_BASE."""

    BLADDER_CRITICAL = 1
    EXHAUSTED = 2
    STARVING = 3
    STRESS_CRITICAL = 4
    BLADDER_URGENT = 5
    HUNGRY = 6
    TIRED = 7
    IN_MEETING = 8
    STRESSED = 9
    NEEDS_COFFEE = 10
    BORED = 11
    CHAOS_BASE = 12


EMPTY_PRIORITY: Final = 255
"""Priority byte of an empty decision-queue slot."""

PARAM_NAMES: Final = (
    "time_scale", "start_second", "hunger_rate", "bladder_rate", "bladder_caffeine_factor",
    "bladder_caffeine_mg", "social_extravert", "social_introvert", "social_company",
    "extravert_threshold", "caffeine_decay", "coffee_mg", "meal_energy", "meal_hunger",
    "energy_gain", "stress_gain", "drain_per_hour", "dt_hours",
    "stress_meeting_term", "stress_deadline_term", "stress_conflict_term", "stress_hunger_gain",
    "energy_hunger_gain", "energy_stress_gain", "caffeine_norm", "caffeine_boost",
    "ambient_power", "speaker_power", "meeting_power", "leak_factor", "noise_cap_power",
    "base_temperature", "temperature_keep", "sun_gain", "ac_step", "ac_max", "co2_outdoor",
    "valence_energy_gain", "valence_stress_gain", "valence_hunger_gain", "valence_social_gain",
    "arousal_stress_gain", "arousal_caffeine_norm", "arousal_caffeine_gain", "arousal_meeting",
    "spawn_hunger", "spawn_energy", "spawn_bladder", "spawn_stress", "spawn_social",
    "noise_quiet", "noise_normal", "noise_lively", "noise_loud",
    "co2_fresh", "co2_normal", "co2_stuffy", "hot_temperature", "door_factor",
    "valence_temperament_gain", "mood_impulse_keep", "valence_neutral_band",
)  # fmt: skip
"""The scalar parameter vector, in order (see :mod:`sentinel.world.params`)."""

CHAOS_ROOM_RANDOM: Final = -1


def component_dtypes() -> dict[str, np.dtype[np.generic]]:
    """Every state component and its dtype (shapes depend on the world's sizes)."""
    table: dict[str, np.dtype[np.generic]] = {}
    for names, dtype in (
        (AGENT_F64, np.float64), (AGENT_U8, np.uint8), (AGENT_I32, np.int32),
        (AGENT_I64, np.int64), (ROOM_F64, np.float64), (ROOM_U8, np.uint8),
        (ROOM_I32, np.int32), (CHAOS_I32, np.int32), (CHAOS_U8, np.uint8),
        (GLOBAL_I64, np.int64), (GLOBAL_F64, np.float64), (GLOBAL_U64, np.uint64),
    ):  # fmt: skip
        for name in names:
            table[name] = np.dtype(dtype)
    table["perception"] = np.dtype(np.uint8)
    table["queue_priority"] = np.dtype(np.uint8)
    table["queue_reason"] = np.dtype(np.uint8)
    table["queue_ttl"] = np.dtype(np.uint16)
    return table
