"""World parameters (``config/simulation.toml``).

Every constant the world's systems use lives here with its source: the defaults are the
reference testbed's values (``SEED_NOTES.md``) or, where the reference was flawed, the fix
and the reason in the field's docstring.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentinel.config.rooms import RoomKind

Hour = Annotated[int, Field(ge=0, le=23)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift(_Strict):
    """A shift set: on duty from ``start_hour`` for ``hours`` hours."""

    set: Annotated[int, Field(ge=1, le=3)]
    start_hour: Hour
    hours: Annotated[int, Field(ge=1, le=24)] = 8


class Staffing(_Strict):
    """How many personas each shift set must have (checked across files)."""

    per_shift: Annotated[int, Field(ge=1)] = 17
    always_on: Annotated[int, Field(ge=0)] = 9


class Biology(_Strict):
    """Needs per hour on the 0-100 scale (caffeine in mg)."""

    hunger_per_hour: NonNegative = 12.5
    bladder_per_hour: NonNegative = 12.0
    bladder_caffeine_factor: Positive = 1.5
    bladder_caffeine_mg: NonNegative = 50.0
    social_extravert_per_hour: float = 10.0
    social_introvert_per_hour: float = -5.0
    social_company_per_hour: float = -20.0
    """Company satisfies the need to talk (the reference had no sink: social only grew)."""
    extravert_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    caffeine_half_life_hours: Positive = 5.7
    coffee_mg: NonNegative = 95.0
    meal_hunger: NonNegative = 60.0
    """Hunger a meal takes away."""
    meal_energy: NonNegative = 15.0
    """Added to the energy state; the state relaxes back, so a meal is no longer overwritten
    on the next tick (a flaw of the reference)."""
    energy_time_constant_hours: Positive = 0.5
    stress_time_constant_hours: Positive = 0.25
    work_drain_per_hour_on_shift: NonNegative = 2.5
    """Drain by hours on the agent's own shift (the reference used hours since 06:00)."""
    morning_base: float = 80.0
    morning_phase_hour: float = 2.0
    evening_base: float = 75.0
    evening_phase_hour: float = 4.0
    circadian_amplitude: float = 15.0
    spawn_hunger: float = 20.0
    spawn_energy: float = 70.0
    spawn_bladder: float = 10.0
    spawn_stress: float = 10.0
    spawn_social: float = 50.0
    """Needs of an agent arriving for its shift."""
    stress_meeting: float = 60.0
    stress_deadline: float = 70.0
    stress_conflict: float = 80.0


class Physics(_Strict):
    """Noise, temperature and air."""

    ambient_db: float = 30.0
    speaker_db: float = 57.0
    """Per talking person (the reference added 5 dB per person: ten people were 30.1 dB)."""
    meeting_db: float = 10.0
    phone_db: float = 5.0
    leak_attenuation_db: float = 20.0
    noise_cap_db: float = 85.0
    base_temperature: float = 21.0
    """The thermostat's setpoint: an empty, closed room relaxes to it (plus sun, broken AC)."""
    outside_temperature: float = 15.0
    sun_gain: float = 2.0
    ac_broken_per_hour: float = 2.5
    ac_broken_max: float = 5.0
    co2_outdoor_ppm: float = 400.0
    volume_per_place_m3: Positive = 25.0
    """Room volume per place of capacity: ASR A1.2 asks 8-10 m2 of floor per workplace,
    under a 2.5-3 m ceiling."""
    infiltration_per_hour: Positive = 0.3
    """Air changes per hour through the envelope (typical offices 0.1-0.5); positive, so
    every room exchanges some air and its CO2 and heat balances have a steady state."""
    ventilation_per_hour: NonNegative = 2.0
    """Air changes per hour of mechanical ventilation at a room's ``ventilation`` = 1."""
    window_per_hour: NonNegative = 4.0
    """Extra air changes per hour while a room's windows are open (airing)."""
    co2_per_person_l_h: NonNegative = 18.0
    """CO2 a seated adult exhales, litres per hour (EN 16798-1 / DIN 1946-6: 18-20 l/h)."""
    heat_per_person_w: NonNegative = 75.0
    """Sensible heat of a person doing office work (ASHRAE Fundamentals: ~75 W)."""
    hvac_w_per_k_per_place: Positive = 20.0
    """How hard heating/cooling and the envelope pull a room to the setpoint, W/K per place."""
    temperature_time_constant_hours: Positive = 0.5
    """How fast a room's temperature relaxes to its steady state (air plus furniture)."""
    street_db: NonNegative = 65.0
    """Daytime traffic noise at a ground-floor facade (an urban street: L_Aeq 60-70 dB,
    WHO Environmental Noise Guidelines 2018 / EEA road-noise maps)."""
    street_floor_drop_db: NonNegative = 3.0
    """Ours: the street is this much quieter at each floor up (distance to the traffic)."""
    street_night_drop_db: NonNegative = 10.0
    """Street noise at night (22:00-06:00) is about 10 dB below the day's (L_night vs L_day
    of road traffic)."""
    window_open_attenuation_db: NonNegative = 15.0
    """What a partly open window still takes off the outdoor level (WHO night-noise
    guidelines: ~15 dB; a closed window ~30 dB, already part of ``ambient_db``)."""
    door_closed_attenuation_db: NonNegative = 10.0
    """Extra attenuation of a closed door over the open doorway for noise leaking between a
    room and its neighbours (a plain interior door: ~20 dB sound reduction against ~10 dB
    for the open doorway and its surroundings)."""


class ChaosKind(_Strict):
    """One kind of disruption: Poisson with ``per_hour``, lasting ``duration_ticks``."""

    name: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    per_hour: NonNegative
    duration_ticks: Annotated[int, Field(ge=1)]
    noise_db: NonNegative = 0.0
    room_kind: RoomKind | None = None
    """Where it happens: the first room of this kind; none (or no such room) means a room
    drawn at random when the event starts."""


def _default_chaos() -> list[ChaosKind]:
    table = (
        ("phone_ring", 0.3, 15, 9.0, None),
        ("printer_broken", 0.05, 900, 25.0, RoomKind.SERVICE),
        ("package", 0.1, 120, 8.0, RoomKind.ENTRANCE),
        ("train_delay", 0.02, 600, 0.0, None),
        ("fire_drill", 0.0014, 180, 38.0, RoomKind.CORRIDOR),
        ("cake_in_kitchen", 0.08, 1800, 4.0, RoomKind.KITCHEN),
        ("ac_broken", 0.01, 7200, 0.0, RoomKind.SERVER),
        ("internet_outage", 0.005, 3600, 0.0, RoomKind.SERVER),
    )
    return [
        ChaosKind(name=n, per_hour=f, duration_ticks=d, noise_db=db, room_kind=k)
        for n, f, d, db, k in table
    ]


class Transit(_Strict):
    """Walking between rooms."""

    seconds_per_hop: Positive = 20.0
    min_seconds: Positive = 15.0
    max_seconds: Positive = 120.0
    meet_probability: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    """Chance that two walkers heading for the same floor stop to chat (once per walk)."""
    chat_ticks: Annotated[int, Field(ge=1)] = 30
    """How long such a chat holds both up (the reference: at least 30 ticks)."""


class Decisions(_Strict):
    """The per-agent decision queue."""

    queue_size: Annotated[int, Field(ge=1, le=16)] = 5
    ttl_ticks: Annotated[list[Annotated[int, Field(ge=1, le=65535)]], Field(min_length=4)] = Field(
        default_factory=lambda: [255, 60, 30, 10]
    )
    """Time to live of priorities P0..P3."""


class Simulation(_Strict):
    """The whole ``simulation.toml``."""

    seed: int = 42
    time_scale: Positive = 1.0
    """Simulated seconds per tick."""
    start_hour: Hour = 6
    shifts: list[Shift] = Field(
        default_factory=lambda: [
            Shift(set=1, start_hour=6),
            Shift(set=2, start_hour=14),
            Shift(set=3, start_hour=22),
        ]
    )
    staffing: Staffing = Field(default_factory=Staffing)
    biology: Biology = Field(default_factory=Biology)
    physics: Physics = Field(default_factory=Physics)
    chaos: list[ChaosKind] = Field(default_factory=_default_chaos)
    transit: Transit = Field(default_factory=Transit)
    decisions: Decisions = Field(default_factory=Decisions)

    @model_validator(mode="after")
    def _shifts(self) -> Simulation:
        sets = [shift.set for shift in self.shifts]
        if sorted(sets) != list(range(1, len(sets) + 1)):
            raise ValueError(f"shift sets must be 1..{len(sets)}, each once; got {sets}")
        covered = [0] * 24
        for shift in self.shifts:
            for hour in range(shift.hours):
                covered[(shift.start_hour + hour) % 24] += 1
        if max(covered) > 1:
            raise ValueError("shifts overlap: each hour belongs to at most one shift set")
        names = [kind.name for kind in self.chaos]
        if len(set(names)) != len(names):
            raise ValueError("chaos kinds must have distinct names")
        if self.transit.min_seconds > self.transit.max_seconds:
            raise ValueError("transit.min_seconds exceeds transit.max_seconds")
        return self

    def shift_at(self, hour: int) -> int:
        """The shift set on duty at ``hour`` (0 if no shift covers it)."""
        for shift in self.shifts:
            if (hour - shift.start_hour) % 24 < shift.hours:
                return shift.set
        return 0
