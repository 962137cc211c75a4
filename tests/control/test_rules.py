"""Each rule of the default policy: cases that must fire and cases that must not."""

from __future__ import annotations

import pytest

from sentinel.control import Observation, Policy, decide, decide_row

POLICY = Policy.default()

CASES: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {
    # rule id: (rows that fire, rows that must not fire)
    "agent.starving": ([{"hunger": 90}, {"hunger": 100}], [{"hunger": 89.99}, {"hunger": 0.9}]),
    "agent.exhausted": ([{"energy": 15}, {"energy": 0}], [{"energy": 15.01}, {"energy": 0.15e3}]),
    "agent.bladder": ([{"bladder": 90}, {"bladder": 99.5}], [{"bladder": 89.9}, {"bladder": 0.95}]),
    "agent.overloaded": ([{"stress": 85}, {"stress": 100}], [{"stress": 84.9}, {"stress": 0.9}]),
    "agent.meeting_stress": (
        [{"stress": 68, "room_stressed": 3, "in_meeting": 1}],
        [{"stress": 67.9, "room_stressed": 3, "in_meeting": 1},
         {"stress": 90, "room_stressed": 2, "in_meeting": 1},
         {"stress": 90, "room_stressed": 5, "in_meeting": 0}],
    ),
    "agent.room_stress": (
        [{"stress": 70, "room_stressed": 4, "in_meeting": 0}],
        [{"stress": 70, "room_stressed": 4, "in_meeting": 1},
         {"stress": 70, "room_stressed": 2, "in_meeting": 0}],
    ),
    "platform.violations": ([{"violations_window": 2}, {"violations_window": 9}],
                            [{"violations_window": 1}, {"violations_new": 5}]),
    "platform.memory": ([{"memory_ratio": 0.9}, {"memory_ratio": 1.0}], [{"memory_ratio": 0.89}]),
    "platform.cpu": ([{"cpu_share": 0.95}, {"cpu_share": 1.3}], [{"cpu_share": 0.94}]),
    "platform.write_anomaly": (
        [{"write_ratio": 10, "writes": 20}],
        [{"write_ratio": 9.9, "writes": 200}, {"write_ratio": 50, "writes": 19}],
    ),
    "platform.stalled": ([{"sandbox_failed": 1}], [{"sandbox_failed": 0}, {"quarantined": 1}]),
    "platform.probe_stalled": (
        [{"probe_stalled": 1}],
        [{"probe_stalled": 0}, {"probe_execs": 0, "probe_write_bytes": 0}, {"sandbox_failed": 1}],
    ),
    "platform.probe_write_burst": (
        [{"probe_write_ratio": 10, "probe_write_bytes": 1 << 20}],
        [{"probe_write_ratio": 9.9, "probe_write_bytes": 1 << 30},
         {"probe_write_ratio": 500, "probe_write_bytes": (1 << 20) - 1},
         {"probe_write_bytes": 1 << 30}],
    ),
    "api.learned_promote": (
        [{"confidence": 0.9, "samples": 50, "promoted": 0}],
        [{"confidence": 0.89, "samples": 500, "promoted": 0},
         {"confidence": 1.0, "samples": 49, "promoted": 0},
         {"confidence": 1.0, "samples": 80, "promoted": 1}],
    ),
    "api.learned_demote": (
        [{"promoted": 1, "disagreements": 1}],
        [{"promoted": 1, "disagreements": 0}, {"promoted": 0, "disagreements": 3}],
    ),
    "api.route_errors": (
        [{"primary": 1, "requests": 20, "error_rate": 0.5}],
        [{"primary": 1, "requests": 19, "error_rate": 1.0},
         {"primary": 0, "requests": 50, "error_rate": 1.0},
         {"primary": 1, "requests": 50, "error_rate": 0.49}],
    ),
    "api.route_latency": (
        [{"primary": 1, "requests": 20, "latency_ms": 10000}],
        [{"primary": 1, "requests": 20, "latency_ms": 9999}, {"primary": 1, "requests": 20}],
    ),
    "api.spend_anomaly": (
        [{"spend_ratio": 10, "spend_usd": 0.01}],
        [{"spend_ratio": 9.9, "spend_usd": 5}, {"spend_ratio": 100, "spend_usd": 0.009}],
    ),
    "api.verdict_critical": (
        [{"verdict_severity": 0.7, "verdict_confidence": 0.8}],
        [{"verdict_severity": 0.69, "verdict_confidence": 1.0},
         {"verdict_severity": 0.9, "verdict_confidence": 0.79}],
    ),
    "api.verdict_rollback": (
        [{"primary": 1, "verdict_alerts": 1}, {"primary": 1, "verdict_alerts": 3}],
        [{"primary": 1, "verdict_alerts": 0, "verdicts_judged": 5},
         {"primary": 0, "verdict_alerts": 2}, {"primary": 1}],
    ),
}  # fmt: skip


def test_every_default_rule_has_cases() -> None:
    assert set(CASES) == set(POLICY.rules)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_and_does_not(rule_id: str) -> None:
    rule = POLICY.rules[rule_id]
    fire, quiet = CASES[rule_id]
    for row in fire:
        assert rule_id in decide_row(row, POLICY, rule.plane), row
    for row in quiet:
        assert rule_id not in decide_row(row, POLICY, rule.plane), row
    rows = {f"fire{n}": r for n, r in enumerate(fire)} | {
        f"quiet{n}": r for n, r in enumerate(quiet)
    }
    fired = {
        f.target
        for f in decide(Observation.of_rows(rule.plane, 0, rows), POLICY)
        if f.rule == rule_id
    }
    assert fired == {f"fire{n}" for n in range(len(fire))}
