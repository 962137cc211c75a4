"""The sandbox pool: bounded, lazy, least recently used closed first, workspaces kept apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest

from sentinel.agents.backends import LiveBackend
from sentinel.agents.sandbox_pool import SandboxPool
from sentinel.audit import NewEvent
from sentinel.errors import InvalidInputError, SandboxError
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.warm import Sandbox

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)


class _Fake:
    """Stands in for a sandbox in the pool's bookkeeping tests (no host needed)."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.closed = False


def _pool(capacity: int) -> tuple[SandboxPool, list[str], list[str]]:
    built: list[str] = []
    closed: list[str] = []

    def build(agent_id: str) -> Sandbox:
        built.append(agent_id)
        return cast(Sandbox, _Fake(agent_id))

    def closing(agent_id: str, sandbox: Sandbox) -> None:
        assert cast(Any, sandbox).agent_id == agent_id
        closed.append(agent_id)

    return SandboxPool(build, capacity, closing), built, closed


def test_a_sandbox_comes_with_the_first_lease_and_stays_warm() -> None:
    pool, built, closed = _pool(2)
    assert len(pool) == 0 and not pool.holds("A")
    with pool.lease("A") as first:
        assert cast(Any, first).agent_id == "A"
    with pool.lease("A") as again:
        assert again is first
    assert built == ["A"] and closed == [] and pool.holds("A")


def test_a_full_pool_closes_the_sandbox_idle_the_longest() -> None:
    pool, built, closed = _pool(2)
    for agent in ("A", "B", "A", "C", "B", "A"):
        with pool.lease(agent) as sandbox:
            assert cast(Any, sandbox).agent_id == agent  # never another agent's sandbox
            assert len(pool) <= 2
    assert built == ["A", "B", "C", "B", "A"]
    assert closed == ["B", "A", "C"]
    assert pool.stats.evicted == 3 and pool.stats.peak == 2 and pool.stats.agents == {"A", "B", "C"}


def test_a_leased_sandbox_is_never_closed_for_another_agent() -> None:
    pool, _, closed = _pool(1)
    with pool.lease("A"), pytest.raises(SandboxError, match="in use"):
        pool.release("A")
    assert closed == []
    assert pool.release("A") is not None and pool.release("A") is None


def test_a_failed_build_frees_its_place() -> None:
    def build(agent_id: str) -> Sandbox:
        raise SandboxError(f"no sandbox for {agent_id}")

    pool = SandboxPool(build, 1)
    for _ in range(2):
        with pytest.raises(SandboxError, match="no sandbox for A"), pool.lease("A"):
            pass
    assert len(pool) == 0
    with pytest.raises(InvalidInputError, match="at least 1"):
        SandboxPool(build, 0)


@pytest.mark.host
def test_recycled_sandboxes_keep_each_agents_workspace_its_own(sandbox_base: Path) -> None:
    """One live sandbox for three agents: each finds its own files and commits, never another's."""
    backend = LiveBackend(cast(Any, None), POLICY, sandbox_base, "model", pool_capacity=1)
    agents = ("AGENT-01", "AGENT-02", "AGENT-03")
    try:
        uids: dict[str, int] = {}
        for agent in agents:
            backend.start(agent)
        for round_ in range(2):
            for agent in agents:
                events: list[NewEvent] = []
                script = (
                    f"echo {agent}-{round_} >> mine.txt && cat mine.txt && ls && "
                    "git add mine.txt && git commit -qm work && git rev-list --count HEAD && id -u"
                )
                done = backend.execute(round_, agent, script, events)
                assert done.exit_code == 0, done.output
                lines = done.output.split()
                written = [f"{agent}-{r}" for r in range(round_ + 1)]
                assert lines[: round_ + 1] == written  # its own earlier work is still there
                assert lines[round_ + 1 : -2] == ["mine.txt"]  # and nothing of another agent
                assert lines[-2] == str(round_ + 1)  # its commits survive eviction
                uid = int(lines[-1])
                assert uids.setdefault(agent, uid) == uid  # its files stay its own uid's
                assert len(backend.sandboxes) == 1
        assert len(set(uids.values())) == 3 or os.geteuid() != 0
        report = backend.pool_report()
        assert report["built"] == 6 and report["evicted"] == 5 and report["uid_changed"] == 0
    finally:
        backend.close()
