"""The esper oracle against the native systems: same state, bit for bit, over many ticks."""

from __future__ import annotations

import esper

from sentinel.config import Company
from sentinel.world import PHASES, World
from sentinel.world.oracle import PROCESSORS, OracleWorld
from sentinel.world.state import canonical_bytes
from tests.world.drive import drive


def test_one_processor_per_phase_in_order() -> None:
    names = [p.__name__.removesuffix("System").lower() for p in PROCESSORS]
    assert tuple(names) == PHASES


def test_oracle_equals_native_over_a_day(minute_company: Company) -> None:
    native = World(minute_company, agents=150, seed=21)
    oracle = World(minute_company, agents=150, seed=21)
    drive(native, 1440, backend="native", seed=8, every=13)
    drive(oracle, 1440, backend="oracle", seed=8, every=13)
    assert native.stats() == oracle.stats()
    assert native.stats()["chaos_started"] > 0
    assert native.stats()["meetings"] > 0
    assert canonical_bytes(native.state) == canonical_bytes(oracle.state)


def test_oracle_equals_native_on_the_shipped_company(company: Company) -> None:
    native, oracle = World(company), World(company)
    drive(native, 3000, backend="native", seed=2, every=50)
    drive(oracle, 3000, backend="oracle", seed=2, every=50)
    assert native.state_hash() == oracle.state_hash()


def test_oracle_world_steps_in_place_and_leaves_esper_clean(minute_company: Company) -> None:
    world = World(minute_company, agents=40, seed=4)
    before = esper.current_world
    engine = OracleWorld(world.state, world.params)
    engine.step(100)
    engine.export(world.state)
    engine.close()
    assert esper.current_world == before
    native = World(minute_company, agents=40, seed=4)
    native.step(100)
    assert world.state_hash() == native.state_hash()
