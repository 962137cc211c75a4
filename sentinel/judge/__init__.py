"""The judge: persona drift, work quality and fatigue of each agent, measured and explained.

Judge a recorded run (verdicts are appended to its store as ``judge.verdict`` events)::

    from sentinel.judge import judge_store

    report = judge_store("run.db")
    for verdict in report.failed:
        print(verdict.agent_id, verdict.evaluation, verdict.explanation.summary)
"""

from sentinel.judge.judging import JUDGE_STREAM, JudgeReport, judge_messages, judge_store
from sentinel.judge.records import read_verdicts
from sentinel.judge.verdict import Explanation, Verdict

__all__ = [
    "JUDGE_STREAM",
    "Explanation",
    "JudgeReport",
    "Verdict",
    "judge_messages",
    "judge_store",
    "read_verdicts",
]
