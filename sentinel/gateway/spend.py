"""Spend reports from the audit trail: tokens, money and requests per agent, model and day.

Read from the ``gateway.model_call`` events, so the report is what the audit trail proves
(not the budget ledger, whose periods roll over); the day is the event's UTC wall-clock date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sentinel.audit.events import Event

MODEL_CALL = "gateway.model_call"


@dataclass
class SpendRow:
    """What one agent spent on one model on one day."""

    day: str
    agent_id: str
    model: str
    requests: int = 0
    synthesized: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


def spend_report(events: Iterable[Event]) -> list[SpendRow]:
    """Sum ``gateway.model_call`` events per (day, agent, model), sorted by those keys."""
    rows: dict[tuple[str, str, str], SpendRow] = {}
    for event in events:
        if event.type != MODEL_CALL:
            continue
        payload = event.payload
        day = datetime.fromtimestamp(event.wall_ns / 1e9, tz=UTC).date().isoformat()
        key = (day, str(payload.get("agent_id")), str(payload.get("model")))
        row = rows.setdefault(key, SpendRow(*key))
        row.requests += 1
        row.synthesized += bool(payload.get("synthesized"))
        row.prompt_tokens += int(payload.get("prompt_tokens") or 0)
        row.completion_tokens += int(payload.get("completion_tokens") or 0)
        row.cost_usd += float(payload.get("cost_usd") or 0.0)
    return [rows[key] for key in sorted(rows)]
