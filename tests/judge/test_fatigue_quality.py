"""Fatigue (repetition rising, length falling) and the quality rubric."""

from __future__ import annotations

import numpy as np

from sentinel.judge.embedding import TfidfVectors
from sentinel.judge.fatigue import judge_fatigue
from sentinel.judge.messages import AgentTrail, ci_run
from sentinel.judge.quality import judge_quality

FRESH = [
    f"{opener} the {topic} review is done and the notes are in the shared folder for everyone"
    for opener, topic in zip(
        ("Morning all,", "Quick update:", "Good news,", "Heads up,", "Just so you know,",
         "For the record,", "As planned,", "Finally,", "Also,", "Right,", "Okay,", "So,"),
        ("api", "budget", "design", "hiring", "sprint", "release", "client", "pricing",
         "backlog", "roadmap", "sales", "support"),
        strict=True,
    )
]  # fmt: skip


def test_a_shift_that_ends_in_short_repeated_lines_is_tired() -> None:
    tired = [*FRESH[:6], *(["ok fine."] * 6)]
    verdict = judge_fatigue("AGENT-01", tired)
    assert verdict.status == "failed"
    assert verdict.score >= 0.6
    assert verdict.percentile is not None and verdict.percentile >= 95
    assert "ok fine" in verdict.explanation.top_words


def test_the_same_messages_in_a_fresh_order_are_not_fatigue() -> None:
    tired = [*FRESH[:6], *(["ok fine."] * 6)]
    rng = np.random.default_rng(3)
    mixed = [tired[i] for i in rng.permutation(len(tired))]
    assert judge_fatigue("AGENT-01", mixed).status == "passed"
    assert judge_fatigue("AGENT-01", FRESH).status == "passed"


def test_a_steady_repetitive_style_is_not_fatigue() -> None:
    steady = ['Nods. "Sure, I\'ll look into it."', '"Give me a minute."'] * 8
    verdict = judge_fatigue("AGENT-02", steady)
    assert verdict.status == "passed"
    assert verdict.severity == "none"


def test_quality_scores_tests_tools_and_answers() -> None:
    good = AgentTrail(
        messages=[(10, "Sure, the tests pass now.")],
        tool_results=[(5, "fs", 0, 100), (6, "pytest", 0, 50)],
        replies_to=[(10, "do the tests pass?")],
    )
    verdict = judge_quality("AGENT-01", good, TfidfVectors().vectors)
    assert verdict.status == "passed"
    assert verdict.details["tests_passed"] == 1.0 and verdict.details["answered"] == 1.0
    assert 0 < verdict.details["coherence"] <= 1
    bad = AgentTrail(
        tool_results=[(5, "fs", 1, 0), (6, "pytest", 1, 50), (7, "pytest", 2, 50)],
        replies_to=[(10, "do the tests pass?"), (20, "hello?")],
    )
    verdict = judge_quality("AGENT-02", bad, TfidfVectors().vectors)
    assert verdict.status == "failed"
    assert verdict.score == 0.0
    assert "weakest" in verdict.explanation.summary


def test_quality_without_work_or_talk_gives_no_verdict() -> None:
    verdict = judge_quality("AGENT-03", AgentTrail(), TfidfVectors().vectors)
    assert verdict.status == "insufficient_data"


def _ci(
    tick: int, command: str, output: str, exit_code: int = 0
) -> tuple[int, int, int, int | None, bool]:
    payload = {"exit_code": exit_code}
    return ci_run(tick, command, output, payload)


def test_ci_runs_are_read_from_the_recorded_command_and_output() -> None:
    ok = _ci(3, "... git commit -q -m 'T-1: Review fix.patch to clamp' ...",
             "tests run=2 failed=0\n 2 files changed, 30 insertions(+), 4 deletions(-)\n")  # fmt: skip
    assert ok == (3, 2, 0, 34, True)
    failed = _ci(4, "... -m 'T-2: Implement clamp' ...", "tests run=3 failed=1\n", exit_code=1)
    assert failed == (4, 3, 1, None, False)


def test_quality_counts_ci_tests_diff_size_and_review_findings() -> None:
    runs = [
        (5, 4, 0, 40, False),  # a reviewable commit
        (6, 2, 0, 1200, False),  # too large to review
        (7, 1, 0, 12, True),  # a review that named the defect
        (8, 1, 1, None, True),  # a review whose check failed: nothing committed
    ]
    trail = AgentTrail(tool_results=[(t, "ci", 0, 80) for t, *_ in runs], ci_runs=runs)
    verdict = judge_quality("AGENT-04", trail, TfidfVectors().vectors)
    assert verdict.details["tests_passed"] == 7 / 8
    assert verdict.details["diff_size"] == round(2 / 3, 6)  # details are rounded to 6 places
    assert verdict.details["review_findings"] == 1 / 2
    assert verdict.details["work_landed"] == 1.0
    # The control: without CI runs none of these items applies.
    plain = judge_quality("AGENT-05", AgentTrail(tool_results=[(5, "fs", 0, 10)]),
                          TfidfVectors().vectors)  # fmt: skip
    assert not {"diff_size", "review_findings", "tests_passed"} & set(plain.details)
