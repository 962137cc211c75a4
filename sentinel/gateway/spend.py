"""Spend reports from the audit trail: tokens, money and requests per day, key, agent, model.

Read from the ``gateway.model_call`` events, so the report is what the audit trail proves
(not the budget ledger, whose periods roll over); the day is the event's UTC wall-clock date
and the key is the virtual key's id (empty for keys from the settings and in-process calls).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sentinel.audit.events import Event

MODEL_CALL = "gateway.model_call"


@dataclass
class SpendRow:
    """What one agent spent on one model on one day, with one virtual key (or none)."""

    day: str
    key_id: str
    agent_id: str
    model: str
    requests: int = 0
    synthesized: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class SpendFilter:
    """Which calls a report sums; None matches everything. Days are inclusive."""

    since: date | None = None
    until: date | None = None
    key_id: str | None = None
    agent_id: str | None = None
    model: str | None = None

    def matches(self, day: date, key_id: str, agent_id: str, model: str) -> bool:
        """True when a call on ``day`` with these names is in the report."""
        return (
            (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
            and self.key_id in (None, key_id)
            and self.agent_id in (None, agent_id)
            and self.model in (None, model)
        )


def spend_report(events: Iterable[Event], where: SpendFilter | None = None) -> list[SpendRow]:
    """Sum ``gateway.model_call`` events per (day, key, agent, model), sorted by those keys."""
    where = where or SpendFilter()
    rows: dict[tuple[str, str, str, str], SpendRow] = {}
    for event in events:
        if event.type != MODEL_CALL:
            continue
        payload = event.payload
        day = datetime.fromtimestamp(event.wall_ns / 1e9, tz=UTC).date()
        names = (str(payload.get("key_id") or ""), str(payload.get("agent_id")),
                 str(payload.get("model")))  # fmt: skip
        if not where.matches(day, *names):
            continue
        key = (day.isoformat(), *names)
        row = rows.setdefault(key, SpendRow(*key))
        row.requests += 1
        row.synthesized += bool(payload.get("synthesized"))
        row.prompt_tokens += int(payload.get("prompt_tokens") or 0)
        row.completion_tokens += int(payload.get("completion_tokens") or 0)
        row.cost_usd += float(payload.get("cost_usd") or 0.0)
    return [rows[key] for key in sorted(rows)]
