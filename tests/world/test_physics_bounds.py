"""Physics checks that share nothing with ``build_params``: first principles, in the test.

The three backends are pinned to each other bit for bit, so a mistake in the shared
parameters would be invisible to the differential tests. These tests recompute what the
physics must do from the configuration's physical quantities and textbook balances:

* CO2 mass balance ``dC/dt = G n / V - Q / V (C - C_out)``: steady state
  ``C_out + G n / Q`` (G in m3/h per person, Q in m3/h, ppm = 1e6 volume fraction);
* an empty closed room relaxes to the thermostat's setpoint (plus sun, no AC fault);
* people on duty are all in rooms or walking (conservation);
* more people never mean less CO2, heat or noise (monotonicity);
* values stay in their physical ranges at every agent count, 1 to 100k.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sentinel.config import Company, load_company
from sentinel.config.rooms import RoomKind
from sentinel.world import World
from tests.world.conftest import CONFIG, scaled

AIR_RHO_C_WH = 1.2 * 1005.0 / 3600.0
"""Air: 1.2 kg/m3 x 1005 J/(kg K), in Wh/(m3 K) (textbook values, not the module's)."""
T_RANGE = (-10.0, 45.0)
"""An occupied office's air: never below a winter outside, never above a heat wave's 45 C."""
CO2_MAX = 5000.0
"""The 8-hour workplace exposure limit for CO2 (ppm); designed rooms stay far below it."""
NOISE_MAX_DB = 85.0
"""The configured cap (a loud factory floor); the ambient floor is 30 dB."""


@functools.cache
def _minute_company() -> Company:
    return scaled(load_company(CONFIG), 60.0)


def _without_chaos(company: Company) -> Company:
    """No chaos and no sun: the balance alone (the sun and AC faults add known offsets)."""
    physics = company.simulation.physics.model_copy(update={"sun_gain": 0.0})
    sim = company.simulation.model_copy(update={"chaos": [], "physics": physics})
    return dataclasses.replace(company, simulation=sim)


def _steady_co2(company: Company, room_id: str, people: int) -> float:
    """``C_out + G n / Q`` from the room's capacity, ventilation and the physics section."""
    phys = company.simulation.physics
    room = next(r for r in company.floor_plan.rooms if r.id == room_id)
    volume = room.capacity * phys.volume_per_place_m3
    flow = volume * (phys.infiltration_per_hour + room.ventilation * phys.ventilation_per_hour)
    return phys.co2_outdoor_ppm + people * (phys.co2_per_person_l_h / 1000.0) / flow * 1e6


def _steady_temperature(company: Company, room_id: str, people: int) -> float:
    """Heat balance of a closed room: ``T_set + n P / (H c + rho c Q)``."""
    phys = company.simulation.physics
    room = next(r for r in company.floor_plan.rooms if r.id == room_id)
    volume = room.capacity * phys.volume_per_place_m3
    flow = volume * (phys.infiltration_per_hour + room.ventilation * phys.ventilation_per_hour)
    pull = phys.hvac_w_per_k_per_place * room.capacity + AIR_RHO_C_WH * flow
    return phys.base_temperature + people * phys.heat_per_person_w / pull


def _hold(world: World, agents: list[int], room: str) -> None:
    """Put ``agents`` in ``room`` (on duty, standing still) and everyone else off duty."""
    s = world.state
    index = world.floor_plan.index()[room]
    s["shift_set"][:] = 0
    s["active"][:] = 1
    s["room"][:] = index
    s["room"][agents] = index
    keep = np.zeros(len(world.agent_ids), dtype=bool)
    keep[agents] = True
    # agents not held are on duty but walking a very long way (not in any room)
    s["room"][~keep] = -1
    s["destination"][~keep] = index
    s["transit_left"][~keep] = 10**9
    s["walk_paired"][:] = 1


def test_an_empty_room_relaxes_to_the_setpoint(minute_company: Company) -> None:
    company = minute_company
    world = World(_without_chaos(company), agents=1)
    world.state["temperature"][:] = 35.0
    world.state["co2"][:] = 3000.0
    _hold(world, [], "g-meeting-large")
    world.step(12 * 60)  # 12 h: 24 temperature time constants, >= 14 air exchange times
    rooms = world.rooms.set_index("room")
    setpoint = company.simulation.physics.base_temperature
    for room in company.floor_plan.rooms:
        assert abs(rooms.loc[room.id, "temperature"] - setpoint) < 0.01, room.id
        assert abs(rooms.loc[room.id, "co2_ppm"] - 400.0) < 2.0, room.id


def test_people_settle_at_the_balance_equations_co2_and_heat(minute_company: Company) -> None:
    plain = _without_chaos(minute_company)
    for room, people in (("g-meeting-large", 12), ("g-office-engineering", 9), ("g-server", 2)):
        world = World(plain, agents=people + 1)
        _hold(world, list(range(people)), room)
        world.step(12 * 60)
        row = world.rooms.set_index("room").loc[room]
        assert row["occupancy"] == people
        want = _steady_co2(plain, room, people)
        assert abs(row["co2_ppm"] - want) <= 0.005 * want, (room, row["co2_ppm"], want)
        heat = _steady_temperature(plain, room, people)
        assert abs(row["temperature"] - heat) < 0.05, (room, row["temperature"], heat)


def test_more_people_never_mean_less_co2_heat_or_noise(minute_company: Company) -> None:
    plain = _without_chaos(minute_company)
    previous = None
    for people in (0, 1, 2, 5, 9, 12):
        world = World(plain, agents=13)
        _hold(world, list(range(people)), "g-meeting-large")
        world.step(30)
        row = world.rooms.set_index("room").loc["g-meeting-large"]
        now = (row["co2_ppm"], row["temperature"], row["noise_db"])
        if previous is not None:
            assert all(b >= a for a, b in zip(previous, now, strict=True)), (people, now)
        previous = now


def _check_ranges(world: World) -> None:
    s = world.state
    on = s["active"] == 1
    placed = int((on & (s["room"] >= 0)).sum())
    walking = int((on & (s["room"] < 0) & (s["transit_left"] > 0)).sum())
    assert placed + walking == int(on.sum())  # conservation
    assert int(s["occupancy"].sum()) <= placed
    temperature, co2 = s["temperature"], s["co2"]
    noise_db = 10.0 * np.log10(s["noise"])
    assert np.all(np.isfinite(temperature)) and np.all(np.isfinite(co2))
    assert T_RANGE[0] <= temperature.min() and temperature.max() <= T_RANGE[1]
    assert co2.min() >= 400.0 - 1e-9 and co2.max() <= CO2_MAX
    assert noise_db.min() >= 30.0 - 1e-9 and noise_db.max() <= NOISE_MAX_DB + 1e-9


@example(agents=1, seed=0)
@example(agents=100_000, seed=7)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agents=st.one_of(st.integers(1, 3000), st.sampled_from([1, 26, 2000, 20_000, 100_000])),
    seed=st.integers(0, 2**32),
)
def test_every_value_stays_in_its_physical_range_at_any_agent_count(agents: int, seed: int) -> None:
    world = World(_minute_company(), agents=agents, seed=seed)
    rng = np.random.default_rng(seed)
    rooms = len(world.params.room_ids)
    for _ in range(6):  # a day in steps of four hours (one tick is a minute)
        # windows (outside noise, air) and doors (noise between rooms) drawn at random
        world.state["window_open"][:] = rng.integers(0, 2, rooms)
        world.state["door_closed"][:] = rng.integers(0, 2, rooms)
        world.step(240)
        _check_ranges(world)
        capacity = np.array([r.capacity for r in world.floor_plan.rooms])
        assert np.all(world.state["occupancy"] <= capacity)


def test_arrivals_spill_over_instead_of_crowding_the_entrance(company: Company) -> None:
    world = World(company)
    world.step(1)
    rooms = world.rooms.set_index("room")
    plan = {r.id: r for r in company.floor_plan.rooms}
    entrance = next(r.id for r in company.floor_plan.rooms if r.kind is RoomKind.ENTRANCE)
    assert rooms.loc[entrance, "occupancy"] == plan[entrance].capacity
    assert all(rooms.loc[r, "occupancy"] <= plan[r].capacity for r in plan)
    assert int(rooms["occupancy"].sum()) == int(world.state["active"].sum())


def test_a_world_too_large_for_the_building_gets_larger_rooms(company: Company) -> None:
    world = World(company, agents=2000, seed=3)
    assert world.peak_on_duty > company.floor_plan.arrival_capacity()
    assert world.building_scale * company.floor_plan.arrival_capacity() >= world.peak_on_duty
    world.step(1)
    assert int(world.state["occupancy"].sum()) == int(world.state["active"].sum())
