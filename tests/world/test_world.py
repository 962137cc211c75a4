"""The world: shifts, phases, readers, determinism and the native == reference property."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel import _native
from sentinel.config import Company, load_company
from sentinel.errors import InvalidInputError
from sentinel.world import PHASES, Action, World
from sentinel.world.layout import EMPTY_PRIORITY, PARAM_NAMES, Reason
from sentinel.world.state import canonical_bytes, copy_state
from sentinel.world.world import THERMOSTAT_RANGE_K
from tests.world.conftest import CONFIG, scaled
from tests.world.drive import drive


def test_phase_order_is_fixed() -> None:
    assert PHASES == (
        "input", "biology", "physics", "transit", "chaos", "mood", "perception", "decision",
        "output", "persist",
    )  # fmt: skip


def test_native_parameter_order_matches_python() -> None:
    assert tuple(_native.world_param_names()) == PARAM_NAMES


def test_shifts_spawn_and_retire(minute_company: Company) -> None:
    world = World(minute_company)
    assert world.state["active"].sum() == 0
    on_duty = []
    for _ in range(24):
        world.step(60)
        on_duty.append(int(world.state["active"].sum()))
    # 17 of the current shift set + 9 always on, at every hour of the day.
    assert on_duty == [26] * 24
    stats = world.stats()
    assert stats["spawned"] == 26 + 17 * 2  # shift sets 2 and 3 arrive at 14:00 and 22:00
    assert stats["retired"] == 17 * 2
    assert world.clock() == "06:00"


def test_hunger_rises_by_the_reference_rate(company: Company) -> None:
    world = World(company)
    world.step(3600)  # the spawn tick runs biology too: 3600 hours-worth of ticks
    on = world.state["active"] == 1
    hunger = world.state["hunger"][on]
    assert np.allclose(hunger, company.simulation.biology.spawn_hunger + 12.5, atol=1e-6)


def test_actions_need_the_right_room(company: Company) -> None:
    world = World(company)
    world.step(1)
    world.act("AGENT-01", Action.COFFEE)  # at the entrance: refused
    world.step(1)
    assert world.stats()["actions_refused"] == 1
    world.move("AGENT-01", "g-kitchen")
    world.step(1)
    assert world.agents.set_index("id").loc["AGENT-01", "destination"] == "g-kitchen"
    world.step(60)
    assert world.agents.set_index("id").loc["AGENT-01", "room"] == "g-kitchen"
    world.act("AGENT-01", Action.COFFEE)
    world.step(1)
    assert world.stats()["actions_done"] == 1
    assert world.state["caffeine"][0] > 90.0
    assert "some caffeine" in world.perception("AGENT-01") or "wide awake" in world.perception(
        "AGENT-01"
    )


def test_meeting_raises_stress_and_fills_the_queue(company: Company) -> None:
    world = World(company)
    world.step(1)
    for agent in ("AGENT-01", "AGENT-02", "AGENT-03"):
        world.move(agent, "g-meeting-large")
        world.set_flags(agent, deadline=True)
    world.step(3600)
    index = world.agent_ids.index("AGENT-02")
    assert world.state["stress"][index] > 20.0
    reasons = [reason for _, reason, _ in world.decisions("AGENT-02")]
    assert Reason.IN_MEETING.name.lower() in reasons
    rooms = world.rooms.set_index("room")
    assert rooms.loc["g-meeting-large", "occupancy"] == 3
    assert rooms.loc["g-meeting-large", "noise_db"] > 60.0  # three talkers at 57 dB each


def test_readers(company: Company) -> None:
    world = World(company)
    world.step(10)
    frame = world.agents
    assert len(frame) == 60
    assert frame["active"].sum() == 26
    table = world.agents_arrow()
    assert table.num_rows == 60
    assert table.column_names == list(frame.columns)
    assert "tick=10" in repr(world)
    assert "<table>" in world._repr_html_()
    assert world.perception("AGENT-20") == "off duty"


def test_inputs_are_checked(company: Company) -> None:
    world = World(company)
    with pytest.raises(InvalidInputError, match="unknown room"):
        world.move("AGENT-01", "attic")
    with pytest.raises(InvalidInputError, match="unknown agent"):
        world.act("AGENT-99", Action.MEAL)
    with pytest.raises(InvalidInputError, match="ticks must be"):
        world.step(-1)
    with pytest.raises(InvalidInputError, match="unknown backend"):
        world.step(1, backend="gpu")  # type: ignore[arg-type]


def test_native_refuses_bad_shapes(company: Company) -> None:
    world = World(company)
    world.state["hunger"] = np.zeros(59)
    with pytest.raises(InvalidInputError, match='"energy" has 60 elements, expected 59'):
        world.step(1)
    world = World(company)
    world.state["room"][3] = 99
    with pytest.raises(InvalidInputError, match='"room" holds a room outside'):
        world.step(1)
    world = World(company)
    world.state["energy"] = world.state["energy"].astype(np.float32)
    with pytest.raises(InvalidInputError, match='"energy" cannot be written'):
        world.step(1)
    world = World(company)
    world.state["stress"] = np.zeros(120)[::2]
    with pytest.raises(InvalidInputError, match="not C-contiguous"):
        world.step(1)


def test_same_seed_same_hash_other_seed_other_hash(minute_company: Company) -> None:
    hashes = []
    for seed in (5, 5, 6):
        world = World(minute_company, seed=seed, agents=500)
        drive(world, 1440, backend="native", seed=seed)
        hashes.append(world.state_hash())
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_native_equals_reference_over_a_day(minute_company: Company) -> None:
    native = World(minute_company, agents=300, seed=11)
    ref = World(minute_company, agents=300, seed=11)
    drive(native, 1440, backend="native", seed=3)
    drive(ref, 1440, backend="reference", seed=3)
    assert native.stats() == ref.stats()
    assert native.stats()["chaos_started"] > 0
    assert native.stats()["decisions_queued"] > 0
    assert native.stats()["meetings"] > 0
    assert canonical_bytes(native.state) == canonical_bytes(ref.state)


@functools.cache
def _company() -> Company:
    return load_company(CONFIG)


def _random_state(world: World, data: st.DataObject) -> None:
    s = world.state
    n, rooms = len(world.agent_ids), len(world.params.room_ids)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="state seed"))
    for name in ("hunger", "energy", "bladder", "stress", "social"):
        s[name][:] = rng.uniform(0.0, 100.0, n)
    s["caffeine"][:] = rng.uniform(0.0, 300.0, n)
    s["active"][:] = rng.integers(0, 2, n)
    s["room"][:] = np.where(s["active"] == 1, rng.integers(-1, rooms, n), -1)
    walking = s["room"] == -1
    s["destination"][:] = np.where(walking & (s["active"] == 1), rng.integers(0, rooms, n), -1)
    s["transit_left"][:] = np.where(s["destination"] >= 0, rng.integers(1, 8, n), 0)
    s["room"][(s["active"] == 1) & (s["destination"] < 0) & walking] = 0
    s["chat_left"][:] = np.where(s["transit_left"] > 0, rng.integers(0, 3, n), 0)
    s["walk_paired"][:] = np.where(s["transit_left"] > 0, rng.integers(0, 2, n), 0)
    s["on_shift_ticks"][:] = rng.integers(0, 40000, n)
    s["deadline"][:] = rng.integers(0, 2, n)
    s["conflict"][:] = rng.integers(0, 2, n)
    s["pending"][:] = rng.integers(0, 4, n)
    s["move_order"][:] = rng.integers(-1, rooms, n)
    s["arrival_left"][:] = np.where(s["active"] == 0, rng.integers(0, 5, n), 0)
    s["valence_impulse"][:] = rng.uniform(-1.0, 1.0, n)
    s["arousal_impulse"][:] = rng.uniform(-1.0, 1.0, n)
    queue = s["queue_priority"].shape[1]
    s["queue_priority"][:] = rng.choice([0, 1, 2, 3, EMPTY_PRIORITY], (n, queue))
    s["queue_reason"][:] = np.where(
        s["queue_priority"] == EMPTY_PRIORITY, 0, rng.integers(1, 20, (n, queue))
    )
    s["queue_ttl"][:] = np.where(
        s["queue_priority"] == EMPTY_PRIORITY, 0, rng.integers(1, 300, (n, queue))
    )
    s["window_open"][:] = rng.integers(0, 2, rooms)
    s["door_closed"][:] = rng.integers(0, 2, rooms)
    s["co2"][:] = rng.uniform(400.0, 2000.0, rooms)
    kinds = s["chaos_left"].shape[0]
    s["chaos_left"][:] = rng.integers(0, 3, kinds)
    s["chaos_room"][:] = np.where(s["chaos_left"] > 0, rng.integers(0, rooms, kinds), -1)
    s["tick"][0] = data.draw(st.integers(0, 10**7), label="tick")
    s["ac_offset"][0] = rng.uniform(0.0, 5.0)
    s["thermostat"][:] = rng.uniform(-THERMOSTAT_RANGE_K, THERMOSTAT_RANGE_K, rooms)


@given(
    data=st.data(),
    agents=st.integers(1, 120),
    ticks=st.integers(1, 40),
    seed=st.integers(-(2**63), 2**64 - 1),
    time_scale=st.sampled_from([1.0, 7.5, 60.0, 600.0]),
)
def test_native_equals_reference_property(
    data: st.DataObject, agents: int, ticks: int, seed: int, time_scale: float
) -> None:
    company = _company()
    world = World(scaled(company, time_scale), agents=agents, seed=seed)
    _random_state(world, data)
    before = copy_state(world.state)
    world.step(ticks, backend="native")
    ref = World(scaled(company, time_scale), agents=agents, seed=seed)
    ref.state.update(before)
    ref.step(ticks, backend="reference")
    assert canonical_bytes(world.state) == canonical_bytes(ref.state)


def test_walkers_to_the_same_floor_may_stop_to_chat(company: Company) -> None:
    world = World(company, seed=8)
    world.step(1)
    for agent in world.agent_ids[:17]:  # shift set 1, on duty at 06:00
        world.move(agent, "u-lounge")
    world.step(1)
    meetings = world.stats()["meetings"]
    assert 0 < meetings <= 8  # 17 walkers to one floor: 8 pairs, each chats with p = 0.3
    chatting = world.agents["chatting"]
    assert chatting.sum() == 2 * meetings
    world.step(200)  # chats (30 ticks) and walks (at most 120 s) are over
    assert world.agents["chatting"].sum() == 0
    assert (world.rooms.set_index("room").loc["u-lounge", "occupancy"]) == 17
