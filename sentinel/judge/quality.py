"""Quality: a rubric fit to the work an agent did in the run.

Coding work (tool results): the share of tests that passed (its own ``pytest`` calls and
its tickets' CI runs), the share of tool calls that succeeded, whether any work landed
(files written or a ticket committed), the diff size (the share of its commits of 1 to
:data:`REVIEWABLE_LINES` changed lines: a commit a reviewer can read) and review findings
(the share of its review tickets whose checks passed: the review named the defect).
Conversation: the share of colleagues' questions the agent answered in words, and coherence,
the mean similarity of a reply to the line it answers (sentence vectors). The score is the
mean of the items that apply; below :data:`PASS_FROM` the verdict fails. Each item is in the
verdict's details.
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
REVIEWABLE_LINES: Final = 400
"""Changed lines a reviewer still reads with care (ours, after the common 200-400 lines
guidance of code-review studies); larger commits, and empty ones, count against."""


def judge_quality(
    agent_id: str, trail: AgentTrail, vectors: Callable[[Sequence[str]], np.ndarray]
) -> Verdict:
    """The quality verdict of one agent (``vectors`` embeds texts for coherence)."""
    items: dict[str, float] = {}
    tools = trail.tool_results
    if tools:
        items["tool_success"] = sum(1 for t in tools if t[2] == 0) / len(tools)
        _coding_items(trail, items)
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


def _coding_items(trail: AgentTrail, items: dict[str, float]) -> None:
    """Tests passed, work landed, diff size and review findings (module docstring)."""
    tools, runs = trail.tool_results, trail.ci_runs
    own = [t for t in tools if t[1] in TEST_TOOLS]
    run = len(own) + sum(r[1] for r in runs)
    if run:
        passed = sum(1 for t in own if t[2] == 0) + sum(r[1] - r[2] for r in runs)
        items["tests_passed"] = passed / run
    committed = [r[3] for r in runs if r[3] is not None]
    written = any(t[1] in WRITE_TOOLS and t[2] == 0 for t in tools)
    items["work_landed"] = float(written or bool(committed))
    if committed:
        items["diff_size"] = sum(1 for n in committed if 1 <= n <= REVIEWABLE_LINES) / len(
            committed
        )
    reviews = [r for r in runs if r[4]]
    if reviews:
        items["review_findings"] = sum(1 for r in reviews if r[1] and not r[2]) / len(reviews)
