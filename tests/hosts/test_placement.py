"""Placement: a pure function of the roster and the hosts alive; a lost host's agents move."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.errors import HostError
from sentinel.hosts.placement import Placement

ROSTERS = st.integers(1, 60).map(lambda n: [f"agent-{i:03d}" for i in range(n)])


@given(ROSTERS, st.integers(1, 6))
def test_every_agent_has_one_home_and_hosts_are_balanced(roster: list[str], hosts: int) -> None:
    placement = Placement(roster, hosts)
    assert placement == Placement(roster, hosts)  # the same every time
    counts = [len(placement.agents_on(host)) for host in range(1, hosts + 1)]
    assert sum(counts) == len(roster)
    assert max(counts) - min(counts) <= 1


@given(ROSTERS, st.integers(2, 6), st.data())
def test_losing_a_host_moves_only_its_agents_to_survivors(
    roster: list[str], hosts: int, data: st.DataObject
) -> None:
    placement = Placement(roster, hosts)
    before = dict(placement.home)
    lost = data.draw(st.integers(1, hosts))
    moved = placement.lose(lost)
    assert set(moved) == {a for a, h in before.items() if h == lost}
    assert all(placement.home[a] == before[a] for a in roster if a not in moved)
    assert lost not in placement.home.values()
    assert set(placement.home.values()) <= set(placement.alive)
    assert placement.lose(lost) == {}  # a second loss of the same host changes nothing


def test_losing_the_last_host_stops_the_run() -> None:
    placement = Placement(["a", "b"], 2)
    placement.lose(1)
    with pytest.raises(HostError, match="every worker host was lost"):
        placement.lose(2)
