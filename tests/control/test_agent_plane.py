"""The agent plane on the real world: observations, interventions that change state, rollback."""

from __future__ import annotations

import numpy as np

from sentinel.control import Command, Policy
from sentinel.control.agent_plane import STRESSED, observe_agents
from sentinel.control.office import OfficeControl
from tests.control.office import office, seated

ONLY = b"""
revision = "test"
[planes.agent]
interval_ticks = 60
"""


def _rule(rule: str) -> Policy:
    return Policy.from_text(ONLY + rule.encode(), "test.toml")


def test_the_observation_is_the_worlds_state() -> None:
    engine = office()
    s = engine.world.state
    on = np.flatnonzero(s["active"].astype(bool))
    observation = observe_agents(engine.world, engine.world.tick)
    assert observation.targets == tuple(engine.world.agent_ids[int(n)] for n in on)
    assert np.array_equal(observation.columns["hunger"], s["hunger"][on])
    agents = seated(engine)[:3]
    room = int(s["room"][engine.days.plans[agents[0]].index])
    for agent_id in agents:
        index = engine.days.plans[agent_id].index
        s["room"][index] = room
        s["stress"][index] = STRESSED
    stressed = observe_agents(engine.world, engine.world.tick)
    for agent_id in agents:
        assert (stressed.value(agent_id, "room_stressed") or 0) >= 3


def test_a_starving_agent_is_fed_and_verified() -> None:
    engine = office()
    agent_id = next(
        a
        for a in seated(engine)
        if engine.places.kind(
            engine.world.params.room_ids[
                int(engine.world.state["room"][engine.days.plans[a].index])
            ]
        )
        != "kitchen"
    )
    index = engine.days.plans[agent_id].index
    engine.world.state["hunger"][index] = 95.0
    engine.control = OfficeControl.for_run(engine, _rule("""
[[rule]]
id = "agent.starving"
plane = "agent"
when = ["hunger >= 90"]
action = "enforce_lunch"
ttl_ticks = 1800
verify = { condition = "hunger < 50", initial_delay_ticks = 120, tolerance = 2 }
"""))  # fmt: skip
    engine.run(900)
    records = engine.control.records
    acted = [a for r in records for a in r.actions if a["target"] == agent_id]
    assert acted and acted[0]["status"] == "applied" and "kitchen" in acted[0]["detail"]
    assert float(engine.world.state["hunger"][index]) < 50  # the meal happened in the world
    verdicts = [v for r in records for v in r.verifications if v["target"] == agent_id]
    assert verdicts[0]["verdict"] == "Successful"


def test_an_intervention_that_makes_it_worse_is_rolled_back() -> None:
    engine = office()
    agent_id = seated(engine)[0]
    plan = engine.days.plans[agent_id]
    here = engine.world.params.room_ids[int(engine.world.state["room"][plan.index])]
    engine.world.state["hunger"][plan.index] = 95.0
    # The break room does not feed anyone: hunger keeps rising, the verification fails.
    engine.control = OfficeControl.for_run(engine, _rule("""
[[rule]]
id = "agent.wrong_cure"
plane = "agent"
when = ["hunger >= 90"]
action = "send_to_break_room"
cooldown_ticks = 100000
ttl_ticks = 1800
verify = { condition = "hunger < 50", initial_delay_ticks = 60 }
"""))  # fmt: skip
    engine.run(240)
    records = engine.control.records
    (verdict,) = [v for r in records for v in r.verifications if v["target"] == agent_id]
    assert verdict["verdict"] == "Failed" and verdict["series"][-1]["result"] == "failure"
    assert verdict["rollback"]["status"] == "applied" and here in verdict["rollback"]["detail"]
    engine.run(240)
    assert engine.world.params.room_ids[int(engine.world.state["room"][plan.index])] == here


def test_lower_workload_and_its_rollback() -> None:
    engine = office()
    agent_id = seated(engine)[0]
    control = OfficeControl.for_run(engine, Policy.default())
    actuator = control.planes["agent"]._actuator
    index = engine.days.plans[agent_id].index
    engine.world.set_flags(index, deadline=True, conflict=True)
    before = engine.agents[agent_id].next_task
    command = Command(
        "agent/agent.overloaded/x/1200", "lower_workload", agent_id, {"hold_ticks": 3600}
    )
    assert actuator.act(command).status == "applied"
    s = engine.world.state
    assert s["deadline"][index] == 0 and s["conflict"][index] == 0
    assert engine.agents[agent_id].next_task >= engine.world.tick + 3600 - 60
    assert actuator.rollback(command.key).status == "applied"
    assert s["deadline"][index] == 1 and s["conflict"][index] == 1
    assert engine.agents[agent_id].next_task == before


def test_move_meeting_moves_it_for_every_attendee_and_back() -> None:
    engine = office()
    meetings = {m for plan in engine.days.plans.values() for m in plan.meetings}
    meeting = min(meetings)
    engine.run(meeting[0] + 120 - engine.world.tick)
    attendees = [a for a, p in engine.days.plans.items() if meeting in p.meetings]
    control = OfficeControl.for_run(engine, Policy.default())
    control.clock.tick = engine.world.tick
    actuator = control.planes["agent"]._actuator
    command = Command("k", "move_meeting", attendees[0], {"delay_ticks": 1800})
    outcome = actuator.act(command)
    assert outcome.status == "applied" and f"for {len(attendees)} attendees" in outcome.detail
    assert all(meeting not in engine.days.plans[a].meetings for a in attendees)
    again = actuator.act(Command("k2", "move_meeting", attendees[1], {"delay_ticks": 1800}))
    assert again.status == "applied" and "moved already" in again.detail
    assert actuator.rollback("k").status == "applied"
    assert all(meeting in engine.days.plans[a].meetings for a in attendees)
