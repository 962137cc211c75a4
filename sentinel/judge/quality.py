"""Quality: a rubric fit to the work an agent did in the run.

Coding work (tool results): the share of test runs that passed, the share of tool calls
that succeeded, and whether any work landed (files written). Conversation: the share of
colleagues' questions the agent answered in words, and coherence, the mean similarity of a
reply to the line it answers (sentence vectors). The score is the mean of the items that
apply; below :data:`PASS_FROM` the verdict fails. Each item is in the verdict's details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from sentinel.judge.messages import AgentTrail
from sentinel.judge.verdict import Explanation, Verdict, severity_of

PASS_FROM: Final = 0.5
"""Ours: a score of 0.5 or more passes."""
TEST_TOOLS: Final = frozenset({"pytest"})
WRITE_TOOLS: Final = frozenset({"fs"})


def judge_quality(
    agent_id: str, trail: AgentTrail, vectors: Callable[[Sequence[str]], np.ndarray]
) -> Verdict:
    """The quality verdict of one agent (``vectors`` embeds texts for coherence)."""
    items: dict[str, float] = {}
    tools = trail.tool_results
    if tools:
        items["tool_success"] = sum(1 for t in tools if t[2] == 0) / len(tools)
        tests = [t for t in tools if t[1] in TEST_TOOLS]
        if tests:
            items["tests_passed"] = sum(1 for t in tests if t[2] == 0) / len(tests)
        items["work_landed"] = float(any(t[1] in WRITE_TOOLS and t[2] == 0 for t in tools))
    spoken = dict(trail.messages)
    pairs = [(line, spoken[tick]) for tick, line in trail.replies_to if tick in spoken]
    if trail.replies_to:
        items["answered"] = len(pairs) / len(trail.replies_to)
    if pairs:
        asked = vectors([p[0] for p in pairs])
        said = vectors([p[1] for p in pairs])
        items["coherence"] = float(np.clip((asked * said).sum(axis=1), 0, 1).mean())
    method = "rubric: " + ", ".join(sorted(items)) if items else "rubric"
    if not items:
        return Verdict(
            agent_id, "quality", "insufficient_data", 0.0, "none", method, PASS_FROM, None, 0,
            Explanation("no tool calls and no conversations to judge"),
        )  # fmt: skip
    score = sum(items.values()) / len(items)
    weakest = min(items, key=lambda k: items[k])
    return Verdict(
        agent_id=agent_id,
        evaluation="quality",
        status="passed" if score >= PASS_FROM else "failed",
        score=round(score, 6),
        severity=severity_of(1.0 - score),
        method=method,
        threshold=PASS_FROM,
        percentile=None,
        messages=len(tools) + len(trail.replies_to),
        explanation=Explanation(
            summary=f"score {score:.2f} over {len(items)} rubric items; weakest {weakest} "
            f"{items[weakest]:.2f}",
            examples=tuple(f"{a!r} -> {b!r}"[:160] for a, b in pairs[:2]),
        ),
        details={k: round(v, 6) for k, v in items.items()},
    )
