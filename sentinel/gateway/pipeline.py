"""The gateway: the seven governed steps between an agent and a model.

1. parse/normalize, 2. authenticate and route, 3. guardrails in (rate limits, screens,
budget reservation), 4. compile the persona prompt, 5. synthesize (rules, learned patterns)
or forward (with the breaker), 6. output guards, 7. extract actions, capability policy,
settle the budget, audit, respond. Every entry point — :meth:`Gateway.complete`,
:meth:`Gateway.complete_many`, the HTTP API and its streaming mode — runs these steps, so no
path skips a budget or a limit. Each step's decision becomes a ``gateway.decision`` event
(and the answer a ``gateway.model_call``), appended as one batch per request.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sentinel.audit.event_types import GatewayDecision, ModelCall
from sentinel.audit.events import NewEvent
from sentinel.audit.store import AuditStore
from sentinel.errors import (
    AgentForbiddenError,
    BreakerOpenError,
    GatewayError,
    PromptBlockedError,
    ProviderError,
    UnknownAgentError,
)
from sentinel.gateway import telemetry
from sentinel.gateway.actions import Action, Rejection, extract_actions
from sentinel.gateway.breaker import BreakerState, CircuitBreaker
from sentinel.gateway.budget import BudgetLedger, Reservation
from sentinel.gateway.guards import Judge, OutputGate, OutputGuards, pattern_judge
from sentinel.gateway.learned import LearnedPatterns
from sentinel.gateway.metrics import GatewayMetrics
from sentinel.gateway.persona import DEMO_PERSONAS, Persona, load_personas, persona_index
from sentinel.gateway.prompt import compile_prompt
from sentinel.gateway.providers.base import CallFailure, Provider, ProviderReply, estimate_tokens
from sentinel.gateway.providers.litellm_provider import LiteLLMProvider
from sentinel.gateway.providers.offline import OfflineProvider
from sentinel.gateway.ratelimit import RateLimiter
from sentinel.gateway.request import GatewayRequest, parse_request
from sentinel.gateway.screens import PromptScreens
from sentinel.gateway.settings import GatewaySettings
from sentinel.gateway.synthesis import SynthesisEngine, Synthesized

AUDIT_STREAM = "gateway"
"""Stream of the gateway's decision events."""
OFFLINE_MODEL = "offline"
"""Model name that selects the offline provider."""

Decision = Literal["synthesized", "learned", "forwarded"]


@dataclass
class GatewayResponse:
    """The gateway's answer to one request."""

    request_id: str
    agent_id: str
    model: str
    text: str
    actions: list[Action]
    rejections: list[Rejection]
    decision: Decision
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    rule_id: str | None = None
    finish_reason: str = "stop"
    regenerations: int = 0
    created: int = field(default_factory=lambda: int(time.time()))

    def to_openai(self) -> dict[str, Any]:
        """The chat-completions response body, with Sentinel's details under ``sentinel``."""
        return {
            "id": self.request_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.text},
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
            "sentinel": {
                "agent_id": self.agent_id,
                "decision": self.decision,
                "rule_id": self.rule_id,
                "provider": self.provider,
                "cost_usd": self.cost_usd,
                "regenerations": self.regenerations,
                "actions": [action.model_dump() for action in self.actions],
                "rejections": [{"reason": r.reason, "detail": r.detail} for r in self.rejections],
            },
        }


class _Trail:
    """The audit events of one request, appended together at the end."""

    def __init__(self, request: GatewayRequest, *, recording: bool = True) -> None:
        self.request = request
        self.recording = recording
        self.agent_id = request.meta.agent_id or "unknown"
        self.attributes: telemetry.Attributes = {}
        self.events: list[NewEvent] = []

    def decide(
        self,
        step: str,
        decision: str,
        *,
        reason: str = "",
        rule_id: str | None = None,
        inputs: Mapping[str, str | int | float | bool | None] | None = None,
    ) -> None:
        if not self.recording:  # no audit store: skip building events nobody keeps
            return
        payload = GatewayDecision(
            agent_id=self.agent_id,
            request_id=self.request.request_id,
            step=step,
            decision=decision,
            reason=reason[:2000],
            rule_id=rule_id,
            inputs=dict(inputs or {}),
            attributes=dict(self.attributes),
        )
        self.events.append(self._event(payload, step))

    def _event(self, payload: GatewayDecision | ModelCall, suffix: str) -> NewEvent:
        return NewEvent.of(
            payload,
            stream=AUDIT_STREAM,
            tick=self.request.meta.tick,
            correlation_id=self.request.request_id,
            idempotency_key=f"{self.request.request_id}/{len(self.events)}/{suffix}",
        )

    def model_call(self, payload: ModelCall) -> None:
        if not self.recording:
            return
        self.events.append(self._event(payload, "model_call"))


class Gateway:
    """The governed path between agents and models; thread-safe.

    Args:
        settings: Gateway settings (default: the embedded defaults).
        personas: The personas (default: ``settings.personas_dir`` or the demo personas).
        audit: Where decisions are recorded; None records nothing (benchmarks, dry runs).
        ledger_path: Overrides ``settings.budgets.ledger`` (``:memory:`` for one process).
        providers: Provider objects by name, replacing those built from the settings.
        judge: The judge of the output guards (default: :func:`pattern_judge`).
        gates: Quality and personality gates of the output guards.
        clock: Monotonic seconds for rate limits and breakers.
    """

    def __init__(
        self,
        settings: GatewaySettings | None = None,
        *,
        personas: Sequence[Persona] | None = None,
        audit: AuditStore | None = None,
        ledger_path: Path | str | None = None,
        providers: Mapping[str, Provider] | None = None,
        judge: Judge = pattern_judge,
        gates: Sequence[OutputGate] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or GatewaySettings()
        if personas is None:
            personas = (
                load_personas(self.settings.personas_dir)
                if self.settings.personas_dir
                else DEMO_PERSONAS
            )
        self.personas = persona_index(personas)
        self.audit = audit
        self.providers: dict[str, Provider] = {
            p.name: OfflineProvider(p.name) if p.kind == "offline" else LiteLLMProvider(p)
            for p in self.settings.providers
        }
        self.providers.update(providers or {})
        if OFFLINE_MODEL not in self.providers:
            self.providers[OFFLINE_MODEL] = OfflineProvider(OFFLINE_MODEL)
        self.breakers = {
            name: CircuitBreaker(self.settings.breaker, clock) for name in self.providers
        }
        self.limiter = RateLimiter(self.settings.rate_limits, clock)
        self.ledger = BudgetLedger(
            ledger_path if ledger_path is not None else self.settings.budgets.ledger,
            self.settings.budgets.limits,
            reservation_ttl_s=self.settings.budgets.reservation_ttl_s,
        )
        self.screens = PromptScreens(self.settings.screens)
        self.synthesis = SynthesisEngine(self.settings.synthesis)
        self.learned = LearnedPatterns(self.settings.learned)
        self.guards = OutputGuards(self.settings.guards, judge=judge, gates=gates)
        self.metrics = GatewayMetrics()

    # -- entry points ------------------------------------------------------------------------
    def complete(
        self,
        body: bytes | str | dict[str, Any] | GatewayRequest,
        *,
        api_key: str | None = None,
        agent_id: str | None = None,
    ) -> GatewayResponse:
        """Run one request through the seven steps.

        Args:
            body: A chat-completions body (JSON bytes, text, a dict) or a parsed request.
            api_key: The caller's API key (the HTTP API passes the bearer token).
            agent_id: The caller's agent id, for in-process callers that are trusted to name
                themselves; ignored when ``api_key`` is given.

        Raises:
            GatewayError: A subclass naming the step that refused: GatewayRequestError,
                RequestTooLargeError, UnknownAgentError, AgentForbiddenError,
                RateLimitedError, PromptBlockedError, BudgetExhaustedError,
                BreakerOpenError, ProviderError.
        """
        answer: GatewayResponse = self.complete_many(
            [body], api_keys=[api_key], agent_ids=[agent_id]
        )[0]
        return answer

    def complete_many(
        self,
        bodies: Sequence[bytes | str | dict[str, Any] | GatewayRequest],
        *,
        api_keys: Sequence[str | None] | None = None,
        agent_ids: Sequence[str | None] | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Run a batch: synthesis decisions for the whole batch are made in one native call.

        Every request of the batch runs (and is settled) before anything is raised.

        Returns:
            A :class:`GatewayResponse` per body, or, with ``return_exceptions``, the
            :class:`GatewayError` that refused it.

        Raises:
            GatewayError: Without ``return_exceptions``, the first refusal of the batch.
        """
        n = len(bodies)
        keys = list(api_keys or [None] * n)
        ids = list(agent_ids or [None] * n)
        started = time.perf_counter()
        states: list[_State | GatewayError] = []
        for body, key, aid in zip(bodies, keys, ids, strict=True):
            states.append(self._admit(body, key, aid))
        admitted = [s for s in states if isinstance(s, _State)]
        decisions = self.synthesis.decide_many(
            [None if s.request.urgent else s.request.meta.fingerprint for s in admitted]
        )
        results: list[Any] = []
        decided = iter(decisions)
        for state in states:
            if isinstance(state, _State):
                try:
                    results.append(self._answer(state, next(decided)))
                except GatewayError as exc:
                    results.append(exc)
            else:
                results.append(state)
        elapsed = (time.perf_counter() - started) / max(1, n)
        for result in results:
            self.metrics.latency.observe(elapsed)
            if isinstance(result, GatewayError):
                self.metrics.requests.labels(result.code, "refused").inc()
        if not return_exceptions:
            for result in results:
                if isinstance(result, GatewayError):
                    raise result
        return results

    # -- steps 1-4 -------------------------------------------------------------------------------
    def _admit(
        self,
        body: bytes | str | dict[str, Any] | GatewayRequest,
        api_key: str | None,
        agent_id: str | None,
    ) -> _State | GatewayError:
        try:
            request = (
                body
                if isinstance(body, GatewayRequest)
                else parse_request(body, self.settings.limits)
            )
        except GatewayError as exc:
            return exc
        trail = _Trail(request, recording=self.audit is not None)
        try:
            persona = self._authenticate(request, api_key, agent_id, trail)
            trail.attributes = telemetry.request_attributes(
                request_id=request.request_id,
                model=request.model,
                agent_id=persona.id,
                agent_name=persona.name,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
            )
            trail.decide(
                "parse",
                "accepted",
                inputs={"bytes": request.body_bytes, "messages": len(request.messages)},
            )
            route = self._route(request, persona)
            trail.decide("route", "routed", inputs={"providers": ",".join(route)})
            self.limiter.acquire(persona.id)
            trail.decide("rate_limit", "accepted")
            messages = self._screen(request, trail)
            reservation = self._reserve(request, persona, messages, route, trail)
        except GatewayError as exc:
            trail.decide(_step_of(exc), "refused", reason=f"{exc.code}: {exc}")
            self._flush(trail)
            return exc
        prompt = compile_prompt(
            persona,
            messages,
            perception=request.meta.perception,
            impulse=request.meta.impulse,
            rooms=self.settings.rooms,
        )
        trail.decide("compile", "compiled", inputs={"blocks": ",".join(prompt.blocks)})
        return _State(request, persona, route, prompt.messages, reservation, trail)

    def _authenticate(
        self, request: GatewayRequest, api_key: str | None, agent_id: str | None, trail: _Trail
    ) -> Persona:
        claimed = request.meta.agent_id
        if api_key is not None:
            mapped = self.agent_for_key(api_key)
            if mapped is None:
                raise UnknownAgentError("unknown API key")
            if claimed is not None and claimed != mapped:
                raise AgentForbiddenError(f"the API key belongs to {mapped!r}, not to {claimed!r}")
            agent = mapped
        else:
            named = agent_id or claimed
            if named is None:
                raise UnknownAgentError("no API key and no agent id")
            agent = named
            if agent_id is not None and claimed is not None and claimed != agent_id:
                raise AgentForbiddenError(f"caller {agent_id!r} may not speak as {claimed!r}")
        trail.agent_id = agent
        persona = self.personas.get(agent)
        if persona is None:
            raise UnknownAgentError(f"unknown agent {agent!r}")
        if persona.models and request.model not in persona.models:
            raise AgentForbiddenError(f"{agent} may not use model {request.model!r}")
        trail.decide(
            "authenticate", "accepted", inputs={"via": "api_key" if api_key else "identity"}
        )
        return persona

    def agent_for_key(self, api_key: str) -> str | None:
        """The agent id an API key maps to, or None.

        Configured keys are either the key itself or ``sha256:<hex digest of the key>``, so
        a settings file need not hold usable keys.
        """
        presented = api_key.encode()
        digest = "sha256:" + hashlib.sha256(presented).hexdigest()
        found = None
        for key, agent in self.settings.auth.api_keys.items():
            # Compare every key in constant time so timing tells nothing about near misses.
            expected, given = (key, digest) if key.startswith("sha256:") else (key, api_key)
            if hmac.compare_digest(expected.encode(), given.encode()):
                found = agent
        return found

    def _route(self, request: GatewayRequest, persona: Persona) -> list[str]:
        if request.model in self.providers:
            return [request.model]
        for name, provider in self.providers.items():
            if provider.model == request.model:
                return [name]
        order = [persona.provider, self.settings.routing.primary, self.settings.routing.fallback]
        route: list[str] = []
        for candidate in order:
            if candidate is not None and candidate in self.providers and candidate not in route:
                route.append(candidate)
        return route

    def _screen(self, request: GatewayRequest, trail: _Trail) -> list[tuple[str, str]]:
        messages, hits = self.screens.apply(request.messages)
        for hit in hits:
            trail.decide(
                "screen",
                hit.action,
                reason=f"{hit.kind} {hit.name}",
                inputs={"screen": hit.name, "message": hit.message},
            )
        if not hits:
            trail.decide("screen", "passed", inputs={"screens": len(self.screens.rules)})
        blocked = [hit for hit in hits if hit.action == "block"]
        if blocked:
            raise PromptBlockedError(
                "prompt blocked by screen(s) " + ", ".join(h.name for h in blocked)
            )
        return messages

    def _reserve(
        self,
        request: GatewayRequest,
        persona: Persona,
        messages: list[tuple[str, str]],
        route: list[str],
        trail: _Trail,
    ) -> Reservation:
        max_tokens = request.max_tokens or self.settings.budgets.default_max_tokens
        prompt_estimate = estimate_tokens(" ".join(text for _, text in messages))
        # The most the call can cost: every regeneration may spend as much again.
        attempts = 1 + self.settings.guards.max_regenerations
        tokens = (prompt_estimate + max_tokens) * attempts
        usd = (
            max(
                self._cost(self.providers[name].model, prompt_estimate, max_tokens)
                for name in route
            )
            * attempts
            if route
            else 0.0
        )
        reservation = self.ledger.reserve(persona.id, persona.team, tokens=tokens, usd=usd)
        trail.decide("budget", "reserved", inputs={"tokens": tokens, "usd": usd})
        return reservation

    def _cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.settings.price(model)
        return (
            prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
        ) / 1e6

    # -- steps 5-7 -------------------------------------------------------------------------------
    def _answer(self, state: _State, synthesized: Synthesized | str) -> GatewayResponse:
        request, persona, trail = state.request, state.persona, state.trail
        self.metrics.synthesis.labels(
            synthesized.rule_id if isinstance(synthesized, Synthesized) else synthesized
        ).inc()
        try:
            if isinstance(synthesized, Synthesized):
                trail.decide(
                    "synthesize",
                    "synthesized",
                    rule_id=synthesized.rule_id,
                    inputs=synthesized.inputs,
                )
                reply = ProviderReply(synthesized.text, 0, 0, "synthesis")
                return self._respond(
                    state, reply, "synthesized", "synthesis", synthesized.rule_id, 0
                )
            trail.decide("synthesize", "forward", reason=synthesized)
            learned = (
                self.learned.lookup(persona.id, request.meta.fingerprint, persona.digest())
                if request.meta.fingerprint and not request.urgent
                else None
            )
            if learned is not None:
                trail.decide(
                    "learned",
                    "answered",
                    inputs={"confidence": learned.confidence, "samples": learned.samples},
                )
                reply = ProviderReply(learned.text, 0, 0, "learned")
                return self._respond(state, reply, "learned", "learned", None, 0)
            provider, reply, regenerations, usage = self._forward(state)
            if request.meta.fingerprint and not request.urgent:
                self.learned.observe(
                    persona.id, request.meta.fingerprint, persona.digest(), reply.text
                )
            return self._respond(state, reply, "forwarded", provider, None, regenerations, usage)
        except GatewayError as exc:
            # A refusal: charge what providers answered before it (replies that were then
            # regenerated), release the rest. Any other exception leaves the reservation
            # held; the ledger charges it when it expires, as after a crash.
            tokens, usd = int(state.spent[0] + state.spent[1]), float(state.spent[2])
            if tokens or usd:
                self.ledger.settle(state.reservation, tokens=tokens, usd=usd)
            else:
                self.ledger.release(state.reservation)
            trail.decide(_step_of(exc), "refused", reason=f"{exc.code}: {exc}")
            self._flush(trail)
            raise

    def _forward(self, state: _State) -> tuple[str, ProviderReply, int, tuple[int, int, float]]:
        request, persona, trail = state.request, state.persona, state.trail
        max_tokens = request.max_tokens or self.settings.budgets.default_max_tokens
        failures: list[str] = []
        skipped: list[str] = []
        for name in state.route:
            breaker = self.breakers[name]
            if not breaker.allow():
                if not request.urgent:
                    skipped.append(name)
                    trail.decide("breaker", "skipped", reason=f"{name} is {breaker.state}")
                    continue
                trail.decide(
                    "breaker", "bypassed", reason=f"urgent request; {name} is {breaker.state}"
                )
            provider = self.providers[name]
            messages = list(state.messages)
            spent = state.spent  # across providers: a reply that was paid for stays paid
            temperature = request.temperature
            try:
                for attempt in range(1 + self.settings.guards.max_regenerations):
                    reply = provider.complete(
                        messages, persona=persona, max_tokens=max_tokens, temperature=temperature
                    )
                    spent[0] += reply.prompt_tokens
                    spent[1] += reply.completion_tokens
                    spent[2] += self._cost(
                        provider.model, reply.prompt_tokens, reply.completion_tokens
                    )
                    review = self.guards.review(reply.text, persona)
                    if review.clean:
                        trail.decide("guards", "clean", inputs={"attempt": attempt})
                        break
                    self.metrics.regenerations.inc()
                    trail.decide(
                        "guards",
                        "regenerate",
                        reason=review.reason,
                        inputs={
                            "attempt": attempt,
                            "patterns": ",".join(h.name for h in review.hits),
                        },
                    )
                    messages = [
                        *messages,
                        ("assistant", reply.text),
                        ("system", self.guards.correction(persona)),
                    ]
                    temperature = self.settings.guards.regeneration_temperature
                else:
                    # Fail closed: the breaking reply never reaches the agent.
                    fallback = OfflineProvider().complete(
                        state.messages, persona=persona, max_tokens=max_tokens, temperature=None
                    )
                    trail.decide(
                        "guards",
                        "replaced",
                        reason="still breaking persona after "
                        f"{self.settings.guards.max_regenerations} regenerations",
                    )
                    reply = ProviderReply(
                        fallback.text,
                        reply.prompt_tokens,
                        reply.completion_tokens,
                        reply.model,
                        "content_filter",
                    )
            except CallFailure as failure:
                if failure.counts_for_breaker:
                    state_after = breaker.record(success=False)
                    self.metrics.breaker_open.labels(name).set(
                        state_after is not BreakerState.CLOSED
                    )
                failures.append(f"{name}: {failure}")
                trail.decide(
                    "forward", "failed", reason=str(failure)[:500], inputs={"provider": name}
                )
                continue
            state_after = breaker.record(success=True)
            self.metrics.breaker_open.labels(name).set(state_after is not BreakerState.CLOSED)
            trail.decide("forward", "answered", inputs={"provider": name, "model": reply.model})
            return name, reply, attempt, (int(spent[0]), int(spent[1]), float(spent[2]))
        if failures:
            raise ProviderError("every provider failed: " + "; ".join(failures))
        raise BreakerOpenError(
            "circuit breaker open for " + ", ".join(skipped or state.route or ["(no provider)"])
        )

    def _respond(
        self,
        state: _State,
        reply: ProviderReply,
        decision: Decision,
        provider: str,
        rule_id: str | None,
        regenerations: int,
        usage: tuple[int, int, float] | None = None,
    ) -> GatewayResponse:
        request, persona, trail = state.request, state.persona, state.trail
        extraction = extract_actions(reply.text, persona, self.settings.rooms)
        for rejection in extraction.rejections:
            trail.decide(
                "extract", "rejected", reason=rejection.detail, inputs={"reason": rejection.reason}
            )
        trail.decide(
            "extract",
            "extracted",
            inputs={
                "source": extraction.source,
                "actions": len(extraction.actions),
                "rejected": len(extraction.rejections),
            },
        )
        prompt_tokens, completion_tokens, cost = usage or (
            reply.prompt_tokens,
            reply.completion_tokens,
            self._cost(reply.model, reply.prompt_tokens, reply.completion_tokens),
        )
        self.ledger.settle(state.reservation, tokens=prompt_tokens + completion_tokens, usd=cost)
        trail.decide(
            "budget", "settled", inputs={"tokens": prompt_tokens + completion_tokens, "usd": cost}
        )
        trail.attributes.update(
            telemetry.response_attributes(
                request_id=request.request_id,
                provider=provider,
                response_model=reply.model,
                input_tokens=prompt_tokens,
                output_tokens=completion_tokens,
                finish_reason=reply.finish_reason,
            )
        )
        if trail.recording:
            trail.model_call(
                ModelCall(
                    agent_id=persona.id,
                    request_id=request.request_id,
                    provider=provider,
                    model=reply.model,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    cost_usd=cost,
                    synthesized=decision != "forwarded",
                    attributes=dict(trail.attributes),
                )
            )
        self._flush(trail)
        self.metrics.requests.labels("answered", decision).inc()
        self.metrics.tokens.labels("input").inc(prompt_tokens)
        self.metrics.tokens.labels("output").inc(completion_tokens)
        self.metrics.cost.inc(cost)
        return GatewayResponse(
            request_id=request.request_id,
            agent_id=persona.id,
            model=reply.model,
            text=reply.text,
            actions=extraction.actions,
            rejections=extraction.rejections,
            decision=decision,
            provider=provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            rule_id=rule_id,
            finish_reason=reply.finish_reason,
            regenerations=regenerations,
        )

    def _flush(self, trail: _Trail) -> None:
        if self.audit is not None and trail.events:
            self.audit.append_batch(trail.events)
        trail.events = []

    def models(self) -> list[str]:
        """Model names a request may ask for: provider names and their models."""
        names = dict.fromkeys([*self.providers, *(p.model for p in self.providers.values())])
        return list(names)

    def close(self) -> None:
        """Close the budget ledger (the audit store belongs to the caller)."""
        self.ledger.close()


@dataclass
class _State:
    request: GatewayRequest
    persona: Persona
    route: list[str]
    messages: list[tuple[str, str]]
    reservation: Reservation
    trail: _Trail
    spent: list[float] = field(default_factory=lambda: [0, 0, 0.0])
    """Prompt tokens, completion tokens and money of every provider reply so far."""


_STEP_OF_CODE = {
    "bad_request": "parse",
    "request_too_large": "parse",
    "unknown_agent": "authenticate",
    "forbidden": "authenticate",
    "rate_limited": "rate_limit",
    "prompt_blocked": "screen",
    "budget_exhausted": "budget",
    "breaker_open": "breaker",
    "provider_error": "forward",
}


def _step_of(exc: GatewayError) -> str:
    return _STEP_OF_CODE.get(exc.code, "gateway")
