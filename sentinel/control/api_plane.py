"""The API plane: observes the gateway's answers, learned patterns and spend; acts on them.

Observation rows: ``learned AGENT FINGERPRINT`` (samples, confidence, promoted, probe
agreements and disagreements), ``route PROVIDER`` (primary or not, requests, error rate
over the last interval; ``route_error_rate`` is the serving primary's), ``spend AGENT``
(spend over the interval and its ratio to the agent's EWMA baseline), and ``verdict AGENT``
rows fed from outside (:meth:`ApiObserver.feed_verdict`: the judge's verdicts become
observations the plane's rules can read). The judge's verdicts of the last judging
(:meth:`ApiObserver.feed_verdicts`) also land on the ``route`` rows of the route each verdict
names: ``verdicts_judged`` (drift and quality verdicts with a decision), ``verdict_alerts``
(those failed at moderate severity or worse) and ``route_verdict_alerts`` (the serving
primary's alerts); they hold until the next judging replaces them (unknown before the first,
and for a route no verdict names).

Actions, each with an inverse: ``promote`` / ``demote`` a learned pattern (the gateway's
learned answers answer only when this plane promoted them), ``switch_route`` (primary and
fallback swap), ``rollback_route`` (the route a
failed verdict names, if it is the serving primary, gives way to the fallback),
``tighten_budget`` (an hourly token limit for the agent on top of the
settings', ``factor`` x the settings' agent limit).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar, Final

import numpy as np

from sentinel.audit import NewEvent
from sentinel.control.actuator import Actuator, ActuatorError, Command
from sentinel.control.observation import Observation
from sentinel.gateway import Gateway
from sentinel.gateway.settings import BudgetLimit
from sentinel.judge.verdict import Verdict

PROVIDER_FAILURES: Final = frozenset({"provider_error", "breaker_open", "upstream_rate_limited"})
"""Refusal codes that count against the serving route (the provider failed, not the request)."""
SPEND_EWMA_ALPHA: Final = 0.05
"""The spend baseline's smoothing, as the platform plane's write baseline (SEED_NOTES)."""
DEFAULT_AGENT_HOURLY_TOKENS: Final = 5_000_000
"""SEED_NOTES, Guardrails: 5M tokens an hour per agent (when the settings name none)."""
API_METRICS: Final = frozenset(
    {"samples", "confidence", "promoted", "agreements", "disagreements", "primary",
     "requests", "error_rate", "route_error_rate", "latency_ms", "route_latency_ms",
     "spend_usd", "spend_ratio", "verdict_severity", "verdict_failed", "verdict_confidence",
     "verdicts_judged", "verdict_alerts", "route_verdict_alerts"}
)  # fmt: skip
ROUTE_EVALUATIONS: Final = frozenset({"drift", "quality"})
"""Issue 16: a failed drift or quality verdict lets the API plane roll back its route."""


class ApiObserver:
    """Counts the gateway's answers per interval and reads its learned patterns.

    Args:
        gateway: The gateway (read only here; the actuator acts on it).
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._requests: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._spend: dict[str, float] = {}
        self._baseline: dict[str, float] = {}
        self._verdicts: dict[str, dict[str, float]] = {}
        self._judged: dict[str, tuple[int, int]] | None = None
        """Per route of the last judging: (verdicts with a decision, alerts)."""

    def feed(self, tick: int, events: Iterable[NewEvent]) -> None:
        """Count one tick's ``runtime.decision`` events (answers, refusals, cost)."""
        for event in events:
            if event.type != "runtime.decision":
                continue
            payload = event.payload
            agent_id = str(payload["agent_id"])
            cost = float(payload.get("cost_usd") or 0.0)
            self._spend[agent_id] = self._spend.get(agent_id, 0.0) + cost
            if payload["decision"] == "forwarded":
                self._requests[str(payload["rule"])] += 1
            elif payload["decision"] == "refused" and payload["rule"] in PROVIDER_FAILURES:
                primary = self.gateway.settings.routing.primary
                self._requests[primary] += 1
                self._failures[primary] += 1

    def feed_verdict(
        self, agent_id: str, *, severity: float, failed: bool, confidence: float = 1.0
    ) -> None:
        """An external verdict about an agent (the judge's), observed at the next iteration."""
        self._verdicts[agent_id] = {
            "verdict_severity": severity,
            "verdict_failed": float(failed),
            "verdict_confidence": confidence,
        }

    def feed_verdicts(self, verdicts: Iterable[Verdict]) -> None:
        """One judging's verdicts: per route they name, drift and quality decided and alerted.

        Replaces the previous judging's counts (the rows show the latest judging). A verdict
        without a decision (``insufficient_data``) counts for neither; an alert is a failed
        verdict of moderate severity or worse (:attr:`Verdict.alert`). A drift verdict with a
        decision is also a ``verdict AGENT`` row (:meth:`feed_verdict`: its share of
        off-persona messages as the severity, its percentile over 100 as the confidence).
        """
        judged: dict[str, tuple[int, int]] = {}
        for verdict in verdicts:
            if verdict.evaluation == "drift" and verdict.status != "insufficient_data":
                self.feed_verdict(
                    verdict.agent_id,
                    severity=verdict.score,
                    failed=verdict.status == "failed",
                    confidence=(verdict.percentile or 0.0) / 100.0,
                )
            if verdict.evaluation not in ROUTE_EVALUATIONS or not verdict.route:
                continue
            decided, alerts = judged.get(verdict.route, (0, 0))
            if verdict.status != "insufficient_data":
                decided += 1
            judged[verdict.route] = (decided, alerts + int(verdict.alert))
        self._judged = judged

    def __call__(self, tick: int) -> Observation:
        """The observation at ``tick`` (the interval counters restart)."""
        rows: dict[str, dict[str, float | None]] = {}
        for stats in self.gateway.learned.stats():
            rows[f"learned {stats.agent_id} {stats.fingerprint}"] = {
                "samples": float(stats.samples),
                "confidence": stats.confidence,
                "promoted": float(stats.promoted),
                "agreements": float(stats.agreed),
                "disagreements": float(stats.disagreed),
            }
        primary = self.gateway.settings.routing.primary
        serving = self._rate(primary)
        judged = self._judged
        for name in sorted(self.gateway.providers):
            row: dict[str, float | None] = {
                "primary": float(name == primary),
                "requests": float(self._requests[name]),
                "error_rate": self._rate(name),
                "route_error_rate": serving,
            }
            if judged is not None:
                decided, alerts = judged.get(name, (None, None))
                row["verdicts_judged"] = None if decided is None else float(decided)
                row["verdict_alerts"] = None if alerts is None else float(alerts)
                primary_alerts = judged.get(primary, (None, None))[1]
                row["route_verdict_alerts"] = (
                    None if primary_alerts is None else float(primary_alerts)
                )
            rows[f"route {name}"] = row
        for agent_id in sorted(self._spend):
            spent = self._spend[agent_id]
            baseline = self._baseline.get(agent_id)
            rows[f"spend {agent_id}"] = {
                "spend_usd": spent,
                "spend_ratio": spent / baseline if baseline else None,
            }
            self._baseline[agent_id] = (
                spent if baseline is None else baseline + SPEND_EWMA_ALPHA * (spent - baseline)
            )
        for agent_id, verdict in sorted(self._verdicts.items()):
            rows[f"verdict {agent_id}"] = dict(verdict)
        self._requests.clear()
        self._failures.clear()
        self._spend.clear()
        self._verdicts.clear()
        observation = Observation.of_rows("api", tick, rows)
        columns = dict(observation.columns)
        for name in API_METRICS - set(columns):
            columns[name] = np.full(len(observation.targets), math.nan)
        return Observation("api", tick, observation.targets, columns)

    def _rate(self, name: str) -> float | None:
        asked = self._requests[name]
        return self._failures[name] / asked if asked else None


class ApiActuator(Actuator):
    """Acts on the gateway (learned patterns, routing, budgets) and nothing else.

    Args:
        gateway: The gateway; its learned patterns are put under this plane's control.
    """

    plane: ClassVar[str] = "api"
    actions: ClassVar[frozenset[str]] = frozenset(
        {"promote", "demote", "switch_route", "rollback_route", "tighten_budget"}
    )

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self._gateway = gateway
        gateway.learned.controlled = True
        self._undo: dict[str, object] = {}

    @staticmethod
    def _split(target: str, *kinds: str) -> list[str]:
        parts = target.split(" ", 2 if "learned" in kinds else 1)
        if parts[0] not in kinds or len(parts) < 2:
            raise ActuatorError(f"{target!r} is not a {' or '.join(kinds)} target")
        return parts[1:]

    def apply(self, command: Command) -> str:
        """Promote, demote, switch or roll back the route, or tighten a budget.

        Raises:
            ActuatorError: The target is unknown or there is no fallback route.
        """
        action, target = command.action, command.target
        learned = self._gateway.learned
        if action in ("promote", "demote"):
            agent_id, fingerprint = self._split(target, "learned")
            before = next(
                (
                    s
                    for s in learned.stats()
                    if (s.agent_id, s.fingerprint) == (agent_id, fingerprint)
                ),
                None,
            )
            if before is None:
                raise ActuatorError(f"no learned pattern {target!r}")
            if action == "promote":
                learned.promote(agent_id, fingerprint)
                self._undo[command.key] = None
            else:
                self._undo[command.key] = learned.demote(agent_id, fingerprint)
            return (
                f"{action}d {target} ({before.samples} samples, confidence {before.confidence:.3f})"
            )
        settings = self._gateway.settings
        if action == "switch_route":
            routing = settings.routing
            if routing.fallback is None:
                raise ActuatorError("no fallback route to switch to")
            swapped = routing.model_copy(
                update={"primary": routing.fallback, "fallback": routing.primary}
            )
            self._gateway.settings = settings.model_copy(update={"routing": swapped})
            self._undo[command.key] = routing
            return f"primary {routing.primary} -> {routing.fallback}"
        if action == "rollback_route":
            (route,) = self._split(target, "route")
            routing = settings.routing
            if routing.primary != route:
                raise ActuatorError(
                    f"route {route} is not serving (the primary is {routing.primary}): "
                    "nothing to roll back"
                )
            if routing.fallback is None:
                raise ActuatorError(f"no fallback route to roll {route} back to")
            swapped = routing.model_copy(
                update={"primary": routing.fallback, "fallback": routing.primary}
            )
            self._gateway.settings = settings.model_copy(update={"routing": swapped})
            self._undo[command.key] = routing
            return f"route {route} rolled back: primary {route} -> {routing.fallback}"
        (agent_id,) = self._split(target, "spend", "verdict")
        factor = float(command.params.get("factor", 0.5))
        hourly = next(
            (
                limit.tokens
                for limit in settings.budgets.limits
                if limit.scope == "agent" and limit.period == "hour" and limit.tokens
            ),
            DEFAULT_AGENT_HOURLY_TOKENS,
        )
        previous_limit = self._gateway.budget_overrides.get(agent_id)
        tokens = int(hourly * factor)
        if previous_limit is not None and previous_limit.tokens is not None:
            tokens = int(previous_limit.tokens * factor)
        self._gateway.budget_overrides[agent_id] = BudgetLimit(
            scope="agent", period="hour", tokens=tokens
        )
        self._undo[command.key] = previous_limit
        return f"{agent_id}: hourly tokens limited to {tokens:,}"

    def revert(self, command: Command) -> str:
        """Demote what was promoted (or restore what was demoted), swap back, lift the limit."""
        action, target = command.action, command.target
        undo = self._undo.pop(command.key, None)
        if action in ("promote", "demote"):
            agent_id, fingerprint = self._split(target, "learned")
            if action == "promote":
                self._gateway.learned.demote(agent_id, fingerprint)
                return f"demoted {target} again"
            self._gateway.learned.restore(agent_id, fingerprint, undo)  # type: ignore[arg-type]
            return f"restored {target}"
        if action in ("switch_route", "rollback_route"):
            self._gateway.settings = self._gateway.settings.model_copy(update={"routing": undo})
            return "routing restored"
        (agent_id,) = self._split(target, "spend", "verdict")
        if undo is None:
            self._gateway.budget_overrides.pop(agent_id, None)
        else:
            self._gateway.budget_overrides[agent_id] = undo  # type: ignore[assignment]
        return f"{agent_id}: budget limit restored"
