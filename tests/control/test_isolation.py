"""Isolation: each plane holds only its own actuator and cannot act through another's."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import permutations
from pathlib import Path

import pytest

from sentinel.control import Actuator, Command, ControlPlane, Policy
from sentinel.control.agent_plane import AGENT_METRICS, AgentActuator
from sentinel.control.api_plane import API_METRICS, ApiActuator
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import empty
from sentinel.control.office import NoSandboxes, OfficeControl
from sentinel.control.platform_plane import PLATFORM_METRICS, PlatformActuator, Quarantine
from sentinel.errors import ConfigError
from sentinel.gateway import Gateway
from tests.control.office import office
from tests.gateway.conftest import settings_with

METRICS = {"agent": AGENT_METRICS, "platform": PLATFORM_METRICS, "api": API_METRICS}


@pytest.fixture
def actuators(tmp_path: Path) -> Iterator[dict[str, Actuator]]:
    engine = office(ticks=10)
    control = OfficeControl.for_run(engine, Policy.default())
    gateway = Gateway(settings_with(), ledger_path=tmp_path / "l.db")
    yield {
        "agent": control.planes["agent"]._actuator,
        "platform": PlatformActuator(NoSandboxes(), Quarantine(), VirtualClock()),
        "api": ApiActuator(gateway),
    }
    gateway.close()


def test_a_plane_refuses_another_planes_actuator(actuators: dict[str, Actuator]) -> None:
    for plane, other in permutations(METRICS, 2):
        with pytest.raises(ConfigError, match=f"the {plane} plane cannot hold the {other}"):
            ControlPlane(
                plane, Policy.default(), partial(empty, plane),
                actuators[other], METRICS[plane], VirtualClock(),
            )  # fmt: skip


@pytest.mark.parametrize(
    ("plane", "foreign"),
    [("agent", "quarantine"), ("platform", "enforce_lunch"), ("platform", "switch_route"),
     ("api", "quarantine"), ("api", "move_meeting"), ("agent", "promote")],
)  # fmt: skip
def test_a_rule_cannot_name_another_planes_action(plane: str, foreign: str) -> None:
    metric = sorted(METRICS[plane])[0]
    text = f"""
revision = "x"
[[rule]]
id = "cross"
plane = "{plane}"
when = ["{metric} >= 1"]
action = "{foreign}"
verify = {{ condition = "{metric} < 1" }}
""".encode()
    classes: dict[str, type[Actuator]] = {
        "agent": AgentActuator, "platform": PlatformActuator, "api": ApiActuator
    }  # fmt: skip
    own = classes[plane]
    with pytest.raises(ConfigError, match=f"has no action '{foreign}'"):
        Policy.from_text(text).check(plane, METRICS[plane], own.actions)


def test_an_actuator_refuses_another_planes_commands(actuators: dict[str, Actuator]) -> None:
    foreign = {"agent": "quarantine", "platform": "enforce_lunch", "api": "throttle"}
    for plane, action in foreign.items():
        outcome = actuators[plane].act(Command(f"{plane}/x/A/1", action, "AGENT-01"))
        assert outcome.status == "error" and f"no action {action!r}" in outcome.detail


def test_each_plane_of_a_run_acts_only_through_its_own_actuator() -> None:
    engine = office(ticks=0, hours=2.0, compromised=0.2)
    control = OfficeControl.for_run(engine, Policy.default())
    engine.control = control
    engine.run(7200)
    actuators = {name: plane._actuator for name, plane in control.planes.items()}
    assert len({id(a) for a in actuators.values()}) == len(actuators)
    for name, actuator in actuators.items():
        assert actuator.plane == name
        assert all(outcome.key.startswith(f"{name}/") for outcome in actuator.log)
    acted = {r.plane: {a["action"] for a in r.actions} for r in control.records if r.actions}
    assert acted.get("agent", set()) <= type(actuators["agent"]).actions
    assert acted["platform"] == {"quarantine"}
