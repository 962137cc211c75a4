"""The loop: act once per key, verify, roll back on Failed, cooldown, backoff, modes, records."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.audit import AuditStore
from sentinel.control import Command, ControlPlane, Policy, replay_control
from sentinel.control.clock import VirtualClock
from sentinel.control.loop import GENESIS
from sentinel.control.office import decision_event, policy_event
from tests.control.tanks import Drain, Tanks, drive, tank_plane, tank_policy


def test_an_action_is_verified_successful_and_not_rolled_back() -> None:
    tanks = Tanks({"a": 95.0, "b": 10.0})
    drain = Drain(tanks)
    plane, clock = tank_plane(tanks, drain)
    first, second = drive(plane, clock, tanks, 11)
    assert first.fired == [{"rule": "tank.high", "mode": "enforce", "targets": ["a"]}]  # not b
    (action,) = first.actions
    assert action["key"] == "agent/tank.high/a/0" and action["status"] == "applied"
    assert tanks.levels["a"] == 45.0
    (verification,) = second.verifications
    assert verification["verdict"] == "Successful" and verification["rollback"] is None
    assert verification["decision"] == first.decision_id
    assert [m["result"] for m in verification["series"]] == ["success"]
    assert drain.reverted == 0


def test_a_failed_verification_rolls_back_through_the_inverse() -> None:
    tanks = Tanks({"a": 95.0})
    drain = Drain(tanks, backwards=True)  # the action makes it worse
    plane, clock = tank_plane(tanks, drain)
    first, second = drive(plane, clock, tanks, 11)
    assert tanks.levels["a"] == 95.0  # filled to 145, then rolled back
    (verification,) = second.verifications
    assert verification["verdict"] == "Failed"
    assert verification["rollback"]["key"] == "agent/tank.high/a/0/rollback"
    assert second.rollbacks == [
        {"key": "agent/tank.high/a/0/rollback", "of": "agent/tank.high/a/0",
         "decision": first.decision_id, "status": "applied"}
    ]  # fmt: skip
    assert drain.reverted == 1
    assert plane.counters["rollbacks"] == 1


def test_no_change_within_the_ttl_is_inconclusive() -> None:
    tanks = Tanks({"a": 95.0})
    plane, clock = tank_plane(tanks, Drain(tanks, scale=0.02))  # drains 1
    records = drive(plane, clock, tanks, 51)
    verdicts = [v for r in records for v in r.verifications]
    assert [v["verdict"] for v in verdicts] == ["Inconclusive"]
    assert len(verdicts[0]["series"]) == 4  # ticks 10..40: the TTL is 40
    assert "within 40 ticks" in verdicts[0]["why"]


def test_cooldown_and_verification_hold_the_key() -> None:
    tanks = Tanks({"a": 95.0}, rise=0.0)
    drain = Drain(tanks, scale=0.02)
    plane, clock = tank_plane(tanks, drain)
    records = drive(plane, clock, tanks, 61)
    held = [(r.tick, why, targets) for r in records for (_, why), targets in r.held.items()]
    assert held[:3] == [
        (10, "verifying", ["a"]),
        (20, "verifying", ["a"]),
        (30, "verifying", ["a"]),
    ]
    assert all(why != "cooldown" for _, why, _ in held)
    acted = [r.tick for r in records if r.actions]
    assert acted == [0, 40]  # verification closed at 40, cooldown (30) already over


def test_actuator_errors_back_off_exponentially() -> None:
    tanks = Tanks({"a": 95.0})
    drain = Drain(tanks, fail=3)
    plane, clock = tank_plane(tanks, drain)
    records = drive(plane, clock, tanks, 71)
    attempts = [(r.tick, a["status"]) for r in records for a in r.actions]
    assert attempts == [(0, "error"), (10, "error"), (30, "error"), (70, "applied")]
    assert plane.counters["action_errors"] == 3


def test_the_same_idempotency_key_applies_once() -> None:
    tanks = Tanks({"a": 95.0})
    drain = Drain(tanks)
    command = Command("agent/tank.high/a/7", "drain", "a", {"amount": 50})
    first, again = drain.act(command), drain.act(command)
    assert first == again and drain.applied == 1 and tanks.levels["a"] == 45.0
    assert drain.rollback(command.key).status == "applied"
    assert drain.rollback(command.key).status == "applied" and drain.reverted == 1


def test_monitor_counts_and_off_does_not_evaluate() -> None:
    tanks = Tanks({"a": 95.0, "b": 99.0})
    drain = Drain(tanks)
    plane, clock = tank_plane(tanks, drain, tank_policy("monitor"))
    records = drive(plane, clock, tanks, 41)
    assert not drain.log and tanks.levels == {"a": 95.0, "b": 99.0}
    assert [len(r.monitored) for r in records] == [2, 0, 0, 2, 0]  # cooldown 30 gates it too
    assert plane.counters["would_act"] == 4
    off, off_clock = tank_plane(tanks, Drain(tanks), tank_policy("off"))
    assert all(not r.fired for r in drive(off, off_clock, tanks, 21))


def test_finish_gives_every_open_action_a_verdict() -> None:
    tanks = Tanks({"a": 95.0})
    plane, clock = tank_plane(tanks, Drain(tanks, scale=0.02))
    drive(plane, clock, tanks, 11)
    closing = plane.finish(clock.tick)
    assert closing is not None
    assert [v["verdict"] for v in closing.verifications] == ["Inconclusive"]
    assert closing.verifications[0]["why"] == "the run ended before the TTL"
    assert not plane.pending and plane.finish(clock.tick) is None


def test_records_are_chained_by_digest() -> None:
    tanks = Tanks({"a": 95.0}, rise=3.0)
    plane, clock = tank_plane(tanks, Drain(tanks))
    records = drive(plane, clock, tanks, 100)
    assert records[0].previous == GENESIS
    assert all(b.previous == a.digest() for a, b in pairwise(records))
    assert len({r.observation_digest for r in records}) == len(records)


levels = st.lists(
    st.dictionaries(st.sampled_from("abcd"), st.floats(0, 200), min_size=1, max_size=4),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(levels, st.booleans(), st.integers(0, 3))
def test_monitor_mode_never_acts(steps: list[dict[str, float]], backwards: bool, fail: int) -> None:
    tanks = Tanks({})
    drain = Drain(tanks, backwards=backwards, fail=fail)
    plane, clock = tank_plane(tanks, drain, tank_policy("monitor"))
    for step in steps:
        tanks.levels = dict(step)
        record = plane.step(tanks.observe(clock.tick))
        clock.advance(10)
        assert not record.actions and not record.verifications and not record.rollbacks
    assert not drain.log and not plane.pending


@settings(max_examples=40, deadline=None)
@given(levels, st.booleans(), st.integers(0, 3))
def test_no_action_without_a_verdict(
    steps: list[dict[str, float]], backwards: bool, fail: int
) -> None:
    tanks = Tanks({})
    drain = Drain(tanks, backwards=backwards, fail=fail)
    plane, clock = tank_plane(tanks, drain)
    records = []
    for step in steps:
        tanks.levels = dict(step)
        records.append(plane.step(tanks.observe(clock.tick)))
        clock.advance(10)
    closing = plane.finish(clock.tick)
    records += [closing] if closing else []
    applied = [a["key"] for r in records for a in r.actions if a["status"] == "applied"]
    verdicts = [v["key"] for r in records for v in r.verifications]
    assert sorted(applied) == sorted(verdicts)
    rolled = [r["of"] for rec in records for r in rec.rollbacks]
    failed = [v["key"] for r in records for v in r.verifications if v["verdict"] == "Failed"]
    assert rolled == failed


def _store_with(tmp_path: Path, mutate: bool = False) -> Path:
    tanks = Tanks({"a": 95.0, "b": 20.0}, rise=2.0)
    policy = tank_policy()
    plane, clock = tank_plane(tanks, Drain(tanks, backwards=False), policy)
    records = drive(plane, clock, tanks, 200)
    closing = plane.finish(clock.tick)
    events = [policy_event(policy)] + [decision_event(r) for r in [*records, closing] if r]
    if mutate:
        observation = events[5].payload["observation"]
        observation["columns"]["level"][0] += 1.0  # the observation no longer matches its digest
    path = tmp_path / "control.db"
    with AuditStore(path) as store:
        store.append_batch(events)
    return path


def test_replay_proves_the_same_decisions(tmp_path: Path) -> None:
    report = replay_control(_store_with(tmp_path))
    assert report.equal, report.differences
    assert report.records == {"agent": 21}


def test_replay_finds_a_changed_observation(tmp_path: Path) -> None:
    report = replay_control(_store_with(tmp_path, mutate=True))
    assert not report.equal
    assert report.differences[0].startswith("agent-000005: observation_digest")


HORIZON = b"idempotency_horizon_ticks = 100\n"


def _horizon_plane() -> tuple[Tanks, Drain, ControlPlane, VirtualClock]:
    tanks = Tanks({"a": 95.0})
    drain = Drain(tanks)
    policy = tank_policy()
    text = policy.text.replace(b"backoff_max_ticks = 80\n", b"backoff_max_ticks = 80\n" + HORIZON)
    plane, clock = tank_plane(tanks, drain, Policy.from_text(text, "tanks.toml"))
    return tanks, drain, plane, clock


def test_a_key_is_remembered_within_the_horizon_and_forgotten_after() -> None:
    tanks, drain, plane, clock = _horizon_plane()
    drive(plane, clock, tanks, 21)  # acted at 0, verified Successful at 10
    key = "agent/tank.high/a/0"
    again = Command(key, "drain", "a", {"amount": 50})
    assert drain.act(again).status == "applied" and drain.applied == 1  # remembered: not again
    drive(plane, clock, tanks, 100)  # tick 120: past 10 + 100
    assert key not in drain._outcomes and key not in drain._applied
    assert drain.act(again).status == "applied" and drain.applied == 2  # forgotten: acts
