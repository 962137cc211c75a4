"""The API plane on a real gateway: learned answers promoted and demoted by the plane,
route switches, budgets tightened, external verdicts as observations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import NewEvent
from sentinel.control import Command, ControlPlane, DecisionRecord, Policy
from sentinel.control.api_plane import API_METRICS, ApiActuator, ApiObserver
from sentinel.control.clock import VirtualClock
from sentinel.errors import BudgetExhaustedError
from sentinel.gateway import Gateway
from sentinel.gateway.settings import LearnedSettings, ProviderSettings, RoutingSettings
from tests.gateway.conftest import chat, fingerprint, settings_with

FP = fingerprint(H=7)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(
        settings_with(learned=LearnedSettings(probe_every=2)), ledger_path=tmp_path / "l.db"
    )
    yield gw
    gw.close()


def _plane(
    gateway: Gateway, policy: Policy | None = None
) -> tuple[ControlPlane, ApiObserver, VirtualClock]:
    clock = VirtualClock()
    observer = ApiObserver(gateway)
    plane = ControlPlane(
        "api", policy or Policy.default(), observer, ApiActuator(gateway), API_METRICS, clock
    )
    return plane, observer, clock


def _tick(plane: ControlPlane) -> DecisionRecord:
    record = plane.tick()
    assert record is not None
    return record


def _decision(agent_id: str, decision: str, rule: str, cost: float = 0.0) -> NewEvent:
    payload = {"agent_id": agent_id, "kind": "need", "decision": decision, "rule": rule,
               "actions": [], "cost_usd": cost}  # fmt: skip
    return NewEvent("runtime", "runtime.decision", payload)


def test_learned_answers_are_promoted_and_demoted_by_the_plane(gateway: Gateway) -> None:
    plane, _, clock = _plane(gateway)
    learned = gateway.learned
    for _ in range(49):
        learned.observe("DEMO-01", FP, "p1", "go to the kitchen")
    assert not _tick(plane).actions  # 49 samples: not yet
    assert learned.lookup("DEMO-01", FP, "p1") is None
    learned.observe("DEMO-01", FP, "p1", "go to the kitchen")
    clock.advance(300)
    record = _tick(plane)
    assert [(a["action"], a["status"]) for a in record.actions] == [("promote", "applied")]
    answer = learned.lookup("DEMO-01", FP, "p1")
    assert answer is not None and answer.text == "go to the kitchen"
    assert learned.lookup("DEMO-01", FP, "p1") is None  # every 2nd answer is a probe
    learned.observe("DEMO-01", FP, "p1", "go to the bathroom")  # the real provider disagrees
    clock.advance(300)
    record = _tick(plane)
    assert [(a["action"], a["status"]) for a in record.actions] == [("demote", "applied")]
    assert learned.lookup("DEMO-01", FP, "p1") is None
    clock.advance(300)
    verdicts = {v["rule"]: v["verdict"] for v in _tick(plane).verifications}
    assert verdicts["api.learned_demote"] == "Successful"


def test_a_failing_primary_route_is_switched_and_verified(tmp_path: Path) -> None:
    routing = RoutingSettings(primary="offline", fallback="offline-2")
    providers = (
        ProviderSettings(name="offline", kind="offline", model="offline"),
        ProviderSettings(name="offline-2", kind="offline", model="offline-2"),
    )
    gw = Gateway(settings_with(routing=routing, providers=providers), ledger_path=tmp_path / "l.db")
    try:
        plane, observer, clock = _plane(gw)
        observer.feed(1, [_decision("DEMO-01", "refused", "provider_error")] * 20)
        record = _tick(plane)
        assert [a["action"] for a in record.actions] == ["switch_route"]
        assert gw.settings.routing.primary == "offline-2"
        observer.feed(301, [_decision("DEMO-01", "forwarded", "offline-2")] * 20)
        clock.advance(300)
        (verdict,) = _tick(plane).verifications
        assert verdict["verdict"] == "Successful" and verdict["rollback"] is None
    finally:
        gw.close()


def test_a_spend_anomaly_tightens_the_agents_budget(gateway: Gateway) -> None:
    plane, observer, clock = _plane(gateway)
    for _ in range(3):
        observer.feed(clock.tick, [_decision("DEMO-01", "forwarded", "offline", 0.001)])
        _tick(plane)
        clock.advance(300)
    observer.feed(clock.tick, [_decision("DEMO-01", "forwarded", "offline", 0.05)])
    record = _tick(plane)
    assert [(a["action"], a["target"]) for a in record.actions] == [
        ("tighten_budget", "spend DEMO-01")
    ]
    assert gateway.budget_overrides["DEMO-01"].tokens == 2_500_000


def test_a_tightened_budget_is_enforced_by_the_gateway_and_rolled_back(gateway: Gateway) -> None:
    actuator = ApiActuator(gateway)
    command = Command("api/x/spend DEMO-01/1", "tighten_budget", "spend DEMO-01", {"factor": 0.0})
    assert actuator.act(command).status == "applied"
    with pytest.raises(BudgetExhaustedError, match="control:DEMO-01"):
        gateway.complete(chat("hello"), agent_id="DEMO-01")
    assert actuator.rollback(command.key).status == "applied"
    assert gateway.complete(chat("hello"), agent_id="DEMO-01").decision


def test_external_verdicts_are_observations(gateway: Gateway) -> None:
    text = Policy.default().text.replace(
        b'mode = "monitor"          # the judge', b'mode = "enforce"          # the judge'
    )
    plane, observer, _ = _plane(gateway, Policy.from_text(text))
    observer.feed_verdict("DEMO-01", severity=0.8, failed=True, confidence=0.9)
    observer.feed_verdict("DEMO-02", severity=0.3, failed=False, confidence=0.9)
    record = _tick(plane)
    assert [(a["rule"], a["target"]) for a in record.actions] == [
        ("api.verdict_critical", "verdict DEMO-01")
    ]
    assert "DEMO-01" in gateway.budget_overrides and "DEMO-02" not in gateway.budget_overrides
