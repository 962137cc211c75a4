from __future__ import annotations

from pathlib import Path

from sentinel.audit import AuditStore, LamportClock, concurrent, happened_before


def test_clock_ticks_and_merges() -> None:
    clock = LamportClock()
    assert clock.tick() == 1
    assert clock.observe(10) == 10
    assert clock.tick() == 11
    assert clock.observe(3) == 11
    assert clock.tick(floor=20) == 21


def test_happened_before_across_nodes(tmp_path: Path) -> None:
    with (
        AuditStore(tmp_path / "a.db", node="host-a") as a,
        AuditStore(tmp_path / "b.db", node="host-b") as b,
    ):
        a1 = a.append("agent/X", "test.step")
        a2 = a.append("agent/X", "test.step")
        b.observe(a2.lamport)  # host b receives a message sent after a2
        b1 = b.append("agent/Y", "test.step", causation_id=a2.event_id)
        b0 = b.append("agent/Z", "test.step")  # unrelated to host a
        lookup = {e.event_id: e for e in (a1, a2, b1, b0)}.get
        assert happened_before(a1, a2, lookup)
        assert happened_before(a2, b1, lookup)
        assert happened_before(a1, b1, lookup)  # transitively, through a2
        assert not happened_before(b1, a1, lookup)
        assert concurrent(a1, b0, lookup)
        assert a2.lamport < b1.lamport
