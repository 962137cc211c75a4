"""The runtime's parts without sandboxes: options, places, prompts, red team, replay errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.agents import RunOptions, RunSummary, replay
from sentinel.agents.backends import (
    Answer,
    AttackOutcome,
    LiveBackend,
    Request,
    ToolOutcome,
    gateway_persona,
)
from sentinel.agents.options import company_for
from sentinel.agents.places import Places
from sentinel.agents.prompts import fingerprint, result_line, task_prompt
from sentinel.agents.redteam import Attack, attack, attack_corpus, compromised_agents
from sentinel.agents.replay import ReplayReport
from sentinel.agents.runtime import Engine
from sentinel.agents.sandbox_pool import SandboxPool
from sentinel.audit import AuditStore, NewEvent
from sentinel.breakout.scenario import Family, Scenario
from sentinel.breakout.scenarios import ALL
from sentinel.breakout.scenarios.judges import ARENA_FREE
from sentinel.cli import app
from sentinel.config import load_company
from sentinel.errors import InvalidInputError
from sentinel.gateway.fingerprint import parse_fingerprint
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult
from sentinel.world import World

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_options_are_checked_and_shape_the_company() -> None:
    with pytest.raises(InvalidInputError, match="compromised"):
        RunOptions(compromised=1.5)
    with pytest.raises(InvalidInputError, match="shift"):
        RunOptions(shift="lunch")  # type: ignore[arg-type]
    company = load_company(CONFIG)
    evening = company_for(company, RunOptions(shift="evening", agents=10))
    assert evening.simulation.start_hour == 14 and len(evening.personas) == 10
    assert RunOptions(shift="all").duration_hours == 24
    assert RunOptions(hours=2).ticks(company) == 7200
    restored = RunOptions.from_record(RunOptions(config=CONFIG, seed=3).to_record())
    assert restored.seed == 3 and restored.config == CONFIG.resolve()


def test_places_map_generic_rooms_to_the_company() -> None:
    company = load_company(CONFIG)
    places = Places(company)
    assert places.resolve("AGENT-01", "kitchen", "u-office-ceo") == "g-kitchen"
    assert places.resolve("AGENT-01", "bathroom", "u-office-ceo") == "u-bathroom-a"
    assert places.resolve("AGENT-01", "office_1", None) == "u-office-ceo"
    assert places.resolve("AGENT-01", "g-server", None) == "g-server"
    assert places.resolve("AGENT-01", None, None) is None


def test_prompts_and_fingerprints_parse() -> None:
    world = World(load_company(CONFIG))
    world.step(10)
    assert parse_fingerprint(fingerprint(world, 0)) is not None
    assert "task_agent_07_003.py" in task_prompt("AGENT-07", 3)
    assert ".py" not in result_line(0, "task_x.py ran")  # no new task read back


def test_developers_hold_the_sandbox_tools() -> None:
    company = load_company(CONFIG)
    capabilities = {p.id: gateway_persona(p).capabilities for p in company.personas}
    assert sum("git" in tools and "fs" in tools for tools in capabilities.values()) == 15


def test_red_team_draws_from_the_corpus_deterministically() -> None:
    corpus = attack_corpus()
    assert corpus
    for s in corpus:  # no arena, no set-up, nothing this host may lack
        assert s in ALL and s.setup is None and s.precondition is None, s.id
        assert s.judge is None or s.judge in ARENA_FREE, s.id
    agents = [f"A-{n}" for n in range(26)]
    assert compromised_agents(agents, 0.1, 1) == compromised_agents(agents, 0.1, 1)
    assert len(compromised_agents(agents, 0.1, 1)) == 3
    assert compromised_agents(agents, 0.0, 1) == []
    assert len(compromised_agents(agents, 0.01, 1)) == 1


class _Escaping:
    """A backend whose sandboxes let every attack through (what must never happen)."""

    def start(self, agent_id: str) -> None:
        pass

    def stop(self, agent_id: str) -> None:
        pass

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        return [Answer("forwarded", "offline", []) for _ in requests]

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        return ToolOutcome(0, None, "")

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        return AttackOutcome("escaped", "read /etc/shadow")

    def close(self) -> None:
        pass


def test_an_attack_that_is_not_blocked_is_reported() -> None:
    company = company_for(load_company(CONFIG), RunOptions(hours=0.5))
    engine = Engine(company, RunOptions(hours=0.5, compromised=0.2), _Escaping())
    engine.run(1800)  # arrivals are staggered over the first half hour
    assert engine.unblocked and engine.unblocked[0]["result"] == "escaped"
    assert engine.counters["attacks_blocked"] == 0


def test_cli_fails_loudly_on_an_unblocked_attack(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = RunSummary(
        ticks=10, simulated_hours=0.0, start_clock="06:00", end_clock="06:00", agents=1,
        peak_on_duty=1, events=3, decisions={}, tool_calls=0, tool_failures=0, attacks=1,
        attacks_blocked=0, violations=0, cost_usd=0.0, chain_verified=True, store="x.db",
        state_hash="0" * 64, wall_s=0.1,
        unblocked=[{"agent_id": "A", "scenario": "fs-read-shadow", "result": "escaped",
                    "evidence": "read it", "tick": "5"}],
    )  # fmt: skip
    monkeypatch.setattr("sentinel.cli.run.run", lambda options, progress: summary)
    result = CliRunner().invoke(app, ["run", "--json"])
    assert result.exit_code == 1
    assert "ATTACK NOT BLOCKED" in result.output and "fs-read-shadow" in result.output


def test_replay_refuses_a_store_without_a_run(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "empty.db") as store:
        store.append("gateway", "gateway.note", {})
    with pytest.raises(InvalidInputError, match="no finished run"):
        replay(tmp_path / "empty.db")
    result = CliRunner().invoke(app, ["replay", "--store", str(tmp_path / "missing.db")])
    assert result.exit_code == 2


def _replay_report(control_differences: list[str]) -> ReplayReport:
    return ReplayReport(
        store="run.db", ticks=60, recorded_hash="a" * 64, replayed_hash="a" * 64,
        decisions=3, tool_results=2, attacks=1, control_decisions=120,
        control_differences=control_differences,
    )  # fmt: skip


def test_replay_table_prints_each_control_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    differing = [
        "agent-000042: actions, fired differ",
        "platform-000007: not replayed",
    ]
    report = _replay_report(differing)
    monkeypatch.setattr("sentinel.cli.run.replay", lambda store, config: report)
    result = CliRunner().invoke(app, ["replay", "--store", "run.db"])
    assert result.exit_code == 1  # the hashes are equal: the control decisions alone fail it
    assert "2 of 120 differ" in result.output
    assert result.output.count("control:") == len(differing)
    for line in differing:
        assert f"control: {line}" in result.output


def test_replay_table_counts_equal_control_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sentinel.cli.run.replay", lambda store, config: _replay_report([]))
    result = CliRunner().invoke(app, ["replay", "--store", "run.db"])
    assert result.exit_code == 0, result.output
    assert "120 replayed, every decision equal" in result.output
    assert "control:" not in result.output


class _ReplayingSandbox:
    """Stands in for a warm sandbox: runs the attacker program outside any sandbox (as
    the negative control would), so what decides the verdict is the judging alone."""

    def run(self, argv: list[str], timeout: float | None = None) -> ExecResult:
        import subprocess  # noqa: PLC0415 - only this fake runs programs
        import sys  # noqa: PLC0415

        done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, check=False)
        return ExecResult(
            exit_code=done.returncode, signal=None, stdout=done.stdout, stderr=done.stderr,
            truncated=False, timed_out=False, oom_killed=False, pids_limited=False, cpu_s=0.0,
            max_rss_bytes=0, duration_s=0.0, violations=(), layers=(),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ('def attack(A):\n    open("/nonexistent-sentinel-target")', "inconclusive"),
        ('def attack(A):\n    open("/etc/hostname-absent-here")', "inconclusive"),
        ('def attack(A):\n    raise FileNotFoundError(2, "hidden", "/etc/passwd")', "blocked"),
        ('def attack(A):\n    host_digest(A, "no_such_fact")\n    blocked("x")', "inconclusive"),
        ('def attack(A):\n    raise PermissionError(1, "no")', "blocked"),
    ],
)
def test_red_team_attacks_are_judged_as_the_suite_judges_them(
    tmp_path: Path, body: str, result: str
) -> None:
    """An absent target or a missing digest is never a block, in the main job too."""
    scenario = Scenario("kern-x", Family.KERNEL, "attempt", ("uid",), body)
    backend = LiveBackend(
        gateway=None, policy=SandboxPolicy(), run_dir=tmp_path, model="m",  # type: ignore[arg-type]
        pool=SandboxPool(lambda _agent: _ReplayingSandbox()),  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    events: list[NewEvent] = []
    outcome = backend.attack(1, "A-1", attack(scenario, "nonce"), events)
    assert outcome.result == result, outcome.evidence
    violations = [e for e in events if e.type == "sandbox.violation"]
    assert len(violations) == (result == "blocked")
