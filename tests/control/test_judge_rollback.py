"""The judge's verdicts as the API plane's observations: a failed drift or quality verdict
(moderate or worse) rolls back the serving route it names, verified at the next judging and
rolled back itself when the new route is judged worse; end to end with the live judge, the
store and the control replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore, verify_store
from sentinel.control import ControlPlane, DecisionRecord, Policy, replay_control
from sentinel.control.api_plane import API_METRICS, ApiActuator, ApiObserver
from sentinel.control.clock import VirtualClock
from sentinel.gateway import Gateway
from sentinel.judge.verdict import Evaluation, Explanation, Severity, Status, Verdict
from tests.control.drifting_run import drifting_run, two_route_gateway

RULE = "api.verdict_rollback"


def _gateway(tmp_path: Path, fallback: str | None = "offline-2") -> Gateway:
    return two_route_gateway(tmp_path / "l.db", fallback)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = _gateway(tmp_path)
    yield gw
    gw.close()


def _verdict(
    agent_id: str = "AGENT-01",
    evaluation: Evaluation = "drift",
    status: Status = "failed",
    severity: Severity = "moderate",
    route: str = "offline",
) -> Verdict:
    return Verdict(
        agent_id, evaluation, status, 0.6, severity, "test", 99.0, 99.5, 20,
        Explanation("a test verdict"), route=route,
    )  # fmt: skip


def _policy(mode: str = "enforce") -> Policy:
    text = Policy.default().text
    block = text[text.index(f'id = "{RULE}"'.encode()) :]
    changed = block.replace(b'plane = "api"\n', f'plane = "api"\nmode = "{mode}"\n'.encode(), 1)
    return Policy.from_text(text.replace(block, changed))


def _plane(gateway: Gateway, policy: Policy) -> tuple[ControlPlane, ApiObserver, VirtualClock]:
    clock = VirtualClock()
    observer = ApiObserver(gateway)
    plane = ControlPlane("api", policy, observer, ApiActuator(gateway), API_METRICS, clock)
    return plane, observer, clock


def _tick(plane: ControlPlane) -> DecisionRecord:
    record = plane.tick()
    assert record is not None
    return record


def _ours(record: DecisionRecord) -> list[tuple[str, str, str]]:
    return [(a["target"], a["action"], a["status"]) for a in record.actions if a["rule"] == RULE]


@pytest.mark.parametrize("evaluation", ["drift", "quality"])
def test_a_failed_verdict_rolls_back_the_route_it_names(
    gateway: Gateway, evaluation: Evaluation
) -> None:
    plane, observer, _ = _plane(gateway, Policy.default())
    observer.feed_verdicts([_verdict(evaluation=evaluation), _verdict("AGENT-02", status="passed")])
    record = _tick(plane)
    assert _ours(record) == [("route offline", "rollback_route", "applied")]
    assert gateway.settings.routing.primary == "offline-2"
    assert gateway.settings.routing.fallback == "offline"
    observation = record.observation
    assert observation is not None
    assert observation.row("route offline")["verdict_alerts"] == 1.0
    assert observation.row("route offline")["verdicts_judged"] == 2.0


@pytest.mark.parametrize(
    "verdict",
    [
        _verdict(status="passed", severity="none"),
        _verdict(status="insufficient_data", severity="none"),
        _verdict(severity="mild"),  # failed, but below the alert band
        _verdict(evaluation="fatigue"),  # not about the route
        _verdict(route="offline-2"),  # names a route that is not serving
    ],
    ids=["passed", "insufficient-data", "mild", "fatigue", "not-serving"],
)
def test_no_rollback_without_a_failed_alert_on_the_serving_route(
    gateway: Gateway, verdict: Verdict
) -> None:
    plane, observer, _ = _plane(gateway, Policy.default())
    observer.feed_verdicts([verdict])
    record = _tick(plane)
    assert RULE not in [f["rule"] for f in record.fired]
    assert gateway.settings.routing.primary == "offline"


def test_no_verdict_yet_is_unknown_and_never_fires(gateway: Gateway) -> None:
    plane, _, _ = _plane(gateway, Policy.default())
    record = _tick(plane)
    assert record.observation is not None
    assert "verdict_alerts" not in record.observation.row("route offline")  # NaN: unknown
    assert not record.fired


def test_monitor_counts_and_off_does_not_evaluate(gateway: Gateway) -> None:
    plane, observer, _ = _plane(gateway, _policy("monitor"))
    observer.feed_verdicts([_verdict()])
    record = _tick(plane)
    assert record.monitored == [
        {"rule": RULE, "target": "route offline", "action": "rollback_route"}
    ]
    assert not record.actions and gateway.settings.routing.primary == "offline"
    plane, observer, _ = _plane(gateway, _policy("off"))
    observer.feed_verdicts([_verdict()])
    assert RULE not in [f["rule"] for f in _tick(plane).fired]


def test_the_rollback_is_verified_at_the_next_judging(gateway: Gateway) -> None:
    plane, observer, clock = _plane(gateway, Policy.default())
    observer.feed_verdicts([_verdict()])
    assert _ours(_tick(plane)) == [("route offline", "rollback_route", "applied")]
    for _ in range(11):  # between judgings the counts hold: nothing is measured yet
        clock.advance(300)
        assert not _tick(plane).verifications
    clock.advance(300)  # the next judging: the fallback's messages are clean
    observer.feed_verdicts([_verdict(status="passed", severity="none", route="offline-2")])
    (verification,) = _tick(plane).verifications
    assert verification["verdict"] == "Successful" and verification["rollback"] is None
    assert gateway.settings.routing.primary == "offline-2"


def test_a_worse_fallback_is_rolled_back_again(gateway: Gateway) -> None:
    plane, observer, clock = _plane(gateway, Policy.default())
    observer.feed_verdicts([_verdict()])
    _tick(plane)
    clock.advance(3600)
    observer.feed_verdicts([_verdict(route="offline-2"), _verdict("AGENT-02", route="offline-2")])
    record = _tick(plane)
    (verification,) = record.verifications
    assert verification["verdict"] == "Failed"
    assert verification["rollback"]["status"] == "applied"
    assert record.rollbacks[0]["of"] == verification["key"]
    assert gateway.settings.routing.primary == "offline"  # restored


def test_rollback_route_refuses_what_it_cannot_roll_back(tmp_path: Path) -> None:
    single = _gateway(tmp_path, fallback=None)
    try:
        plane, observer, _ = _plane(single, Policy.default())
        observer.feed_verdicts([_verdict()])
        (action,) = [a for a in _tick(plane).actions if a["rule"] == RULE]
        assert action["status"] == "error"
        assert action["detail"] == "no fallback route to roll offline back to"
    finally:
        single.close()


# -- end to end: the live judge in the control planes, the store, the replay --------------


def test_a_drifted_agent_rolls_back_its_route_in_a_run_and_replay_proves_it(
    tmp_path: Path, gateway: Gateway
) -> None:
    path = tmp_path / "run.db"
    ran = drifting_run(path, gateway)
    control, drifted, clean = ran.control, ran.drifted, ran.clean
    with AuditStore(path, create=False) as store:
        verdicts = [(e.tick or 0, e.payload) for e in store.read(type="judge.verdict")]
        decisions = [e.payload for e in store.read(type="control.decision")]

    assert control.judge is not None and control.judge.judgings == 3  # the last window at the end
    assert sorted({tick for tick, _ in verdicts}) == [3601, 7201]
    first = {(v["agent_id"], v["evaluation"]): v for tick, v in verdicts if tick == 3601}
    assert first[(drifted, "drift")]["status"] == "failed"
    assert first[(drifted, "drift")]["alert"] is True
    assert first[(drifted, "drift")]["route"] == "offline"
    assert all(first[(a, "drift")]["status"] == "passed" for a in clean)
    acted = [(d["tick"], a) for d in decisions for a in d["actions"] if a["rule"] == RULE]
    assert [(t, a["action"], a["target"], a["status"]) for t, a in acted] == [
        (3601, "rollback_route", "route offline", "applied")
    ]
    second = [v for tick, v in verdicts if tick == 7201 and v["evaluation"] == "drift"]
    assert {v["route"] for v in second} == {"offline-2"}
    assert {v["agent_id"] for v in second} == {drifted, *clean}
    assert all(v["status"] == "passed" for v in second)  # the drifted half was day one's
    verified = [v for d in decisions for v in d["verifications"] if v["rule"] == RULE]
    assert [(v["verdict"], v["series"][0]["tick"]) for v in verified] == [("Successful", 7201)]
    assert gateway.settings.routing.primary == "offline-2"
    assert verify_store(path).ok
    report = replay_control(path)
    assert report.equal, report.differences
    assert report.records["api"] == sum(1 for d in decisions if d["plane"] == "api")


def test_drift_verdicts_are_also_agent_verdict_rows(gateway: Gateway) -> None:
    plane, observer, _ = _plane(gateway, Policy.default())
    critical = dataclasses.replace(_verdict(severity="critical"), score=0.8)
    undecided = _verdict("AGENT-02", status="insufficient_data", severity="none")
    observer.feed_verdicts([critical, undecided])
    record = _tick(plane)
    assert record.observation is not None
    assert record.observation.row("verdict AGENT-01") == {
        "verdict_severity": 0.8, "verdict_failed": 1.0, "verdict_confidence": 0.995
    }  # fmt: skip
    assert "verdict AGENT-02" not in record.observation.targets
    assert {"rule": "api.verdict_critical", "target": "verdict AGENT-01",
            "action": "tighten_budget"} in record.monitored  # fmt: skip
