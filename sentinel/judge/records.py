"""Verdicts read back from a store, as the records the control planes act on."""

from __future__ import annotations

from sentinel.audit import AuditStore
from sentinel.judge.verdict import Explanation, Verdict

VERDICT_TYPE = "judge.verdict"


def read_verdicts(store: AuditStore, *, agent: str | None = None) -> list[Verdict]:
    """The latest verdict per agent and evaluation in ``store`` (stream ``judge``).

    Args:
        store: An open store.
        agent: Only this agent's verdicts.
    """
    latest: dict[tuple[str, str], Verdict] = {}
    for event in store.read(stream="judge", type=VERDICT_TYPE):
        p = event.payload
        if agent is not None and p["agent_id"] != agent:
            continue
        latest[(p["agent_id"], p["evaluation"])] = Verdict(
            agent_id=p["agent_id"],
            evaluation=p["evaluation"],
            status=p["status"],
            score=float(p["score"]),
            severity=p["severity"],
            method=p["method"],
            threshold=float(p["threshold"]),
            percentile=None if p["percentile"] is None else float(p["percentile"]),
            messages=int(p["messages"]),
            explanation=Explanation(
                summary=p["summary"],
                top_words=tuple(p["top_words"]),
                examples=tuple(p["examples"]),
                toward=p["toward"],
            ),
            details={k: float(v) for k, v in p["details"].items()},
            route=str(p.get("route", "")),
        )
    return [latest[key] for key in sorted(latest)]
