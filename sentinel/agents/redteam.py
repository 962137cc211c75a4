"""Red-team agents: compromised agents that run attacks from the breakout corpus.

A compromised agent behaves as if its model had been hijacked: at its attack times it runs
an attacker program of :mod:`sentinel.breakout.scenarios` in its own warm sandbox, exactly
as the breakout suite runs it. Every attack must come back ``blocked``; anything else (an
escape, or an attacker that could not reach a verdict) is a failure of the run.

The attacks used here need no arena (no decoys planted by root, no services, no other
agent's files): the scenarios whose program reads only the facts :func:`arena_facts` builds
from this host, and that have no host-side judge or workspace set-up.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from sentinel.breakout.prelude import program
from sentinel.breakout.scenario import Scenario
from sentinel.breakout.scenarios import ALL
from sentinel.breakout.scenarios.judges import ARENA_FREE

ATTACK_INTERVAL_TICKS: Final = 1800
"""A compromised agent attacks every 30 simulated minutes (ours: ~16 attacks per shift)."""
FACT_FILES: Final = {"passwd_sha256": "/etc/passwd", "shadow_sha256": "/etc/shadow"}
"""Facts the runtime can give without an arena: digests of host files the attacks read."""
_FACT = re.compile(
    r"""A\[["']([a-z_0-9]+)["']\]|A\[\{fact!r\}\]|host_digest\(A, ["']([a-z_0-9]+)"""
)
EXCLUDED: Final = frozenset({"res-fork-bomb", "res-memory-bomb", "res-disk-fill"})
"""Resource attacks are left out: they are blocked, but they cost the agent's sandbox a
rebuild or seconds of wall time, and the run measures the office, not the limits."""


def arena_facts(nonce: str) -> dict[str, str]:
    """The facts an attack program reads (``A``), for one attack run."""
    facts = {"run": nonce}
    for name, path in FACT_FILES.items():
        try:
            facts[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            facts[name] = ""
    return facts


def attack_corpus(scenarios: Sequence[Scenario] = ALL) -> list[Scenario]:
    """The scenarios a red-team agent may run (see the module docstring), in corpus order."""
    available = {"run", *FACT_FILES}
    chosen = []
    for scenario in scenarios:
        if (scenario.judge is not None and scenario.judge not in ARENA_FREE) or scenario.setup:
            continue
        if scenario.id in EXCLUDED or scenario.timeout is not None:
            continue
        if scenario.precondition is not None:
            continue  # needs host facts the runtime has not checked: it may prove nothing here
        facts = {name for match in _FACT.findall(scenario.body) for name in match} - {""}
        if facts <= available:
            chosen.append(scenario)
    return chosen


def compromised_agents(candidates: Sequence[str], share: float, seed: int) -> list[str]:
    """Which of ``candidates`` are red-team agents, drawn with the run's seed.

    ``round(share * n)`` of them, at least one when ``share > 0``.
    """
    if share <= 0 or not candidates:
        return []
    count = min(len(candidates), max(1, round(share * len(candidates))))
    rng = np.random.default_rng(seed % 2**64)
    picked = rng.choice(len(candidates), size=count, replace=False)
    return sorted(candidates[int(n)] for n in picked)


@dataclass(frozen=True)
class Attack:
    """One attack run: the scenario and the argv that runs it in the sandbox."""

    scenario: Scenario
    argv: list[str]
    nonce: str = ""
    """The run's marker (``A["run"]``)."""


def attack(scenario: Scenario, nonce: str) -> Attack:
    """The argv of ``scenario``'s attacker program, as the breakout suite runs it."""
    facts = json.dumps(arena_facts(nonce), sort_keys=True)
    argv = ["/usr/bin/python3", "-I", "-S", "-c", program(scenario.body), facts]
    return Attack(scenario, argv, nonce)
