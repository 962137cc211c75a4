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
import itertools
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sentinel.audit.event_types import GatewayDecision, ModelCall
from sentinel.audit.events import NewEvent
from sentinel.audit.store import AuditStore
from sentinel.errors import (
    AgentForbiddenError,
    BreakerOpenError,
    BudgetExhaustedError,
    GatewayError,
    GatewayInternalError,
    GatewayRequestError,
    KeyRevokedError,
    ModelNotFoundError,
    PromptBlockedError,
    ProviderError,
    UnknownAgentError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
)
from sentinel.gateway import telemetry
from sentinel.gateway.actions import Action, Rejection, extract_actions
from sentinel.gateway.audit_events import decision_payload, model_call_payload
from sentinel.gateway.audit_sink import AuditAck, AuditSink
from sentinel.gateway.breaker import BreakerState, CircuitBreaker
from sentinel.gateway.budget import BudgetLedger, Reservation
from sentinel.gateway.guards import Judge, OutputGate, OutputGuards, pattern_judge
from sentinel.gateway.keys import KEY_PREFIX, KeyStore, VirtualKey
from sentinel.gateway.learned import LearnedPatterns
from sentinel.gateway.metrics import GatewayMetrics
from sentinel.gateway.otel import SpanExport
from sentinel.gateway.persona import DEMO_PERSONAS, Persona, load_personas, persona_index
from sentinel.gateway.prompt import compile_prompt
from sentinel.gateway.providers.base import CallFailure, Provider, ProviderReply, StreamChunk
from sentinel.gateway.providers.litellm_provider import LiteLLMProvider
from sentinel.gateway.providers.offline import OfflineProvider
from sentinel.gateway.ratelimit import RateLimiter
from sentinel.gateway.request import (
    AgentMetadata,
    GatewayRequest,
    new_request_id,
    parse_request,
)
from sentinel.gateway.screens import PromptScreens
from sentinel.gateway.settings import AUTO_MODEL, BudgetLimit, GatewaySettings
from sentinel.gateway.streaming import (
    GuardedText,
    StreamEvent,
    StreamTally,
    ToolCallBuffer,
    pump,
)
from sentinel.gateway.synthesis import SynthesisEngine, Synthesized
from sentinel.gateway.tokens import TokenCounter

AUDIT_STREAM = "gateway"
"""Stream of the gateway's decision events."""
OFFLINE_MODEL = "offline"
"""Model name that selects the offline provider."""
PLAIN_TEAM = "clients"
"""The budget team of plain clients (``auth.clients``)."""
DEFAULT_RETRY_AFTER_S = 1.0
"""Retry-After passed on for an upstream 429 that named none."""

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
    tool_calls: list[dict[str, Any]] | None = None
    extra_choices: list[dict[str, Any]] = field(default_factory=list)

    def to_openai(self) -> dict[str, Any]:
        """The chat-completions response body, with Sentinel's details under ``sentinel``."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
            message["content"] = self.text or None
        choices = [{"index": 0, "message": message, "finish_reason": self.finish_reason}]
        for index, choice in enumerate(self.extra_choices, start=1):
            choices.append({**choice, "index": index})
        return {
            "id": self.request_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
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


@dataclass(frozen=True)
class _Call:
    """A ``gateway.model_call``'s fields, made into the event off the request path."""

    fields: dict[str, Any]


_Decision = tuple[
    str,
    str,
    str,
    str,
    str | None,
    Mapping[str, str | int | float | bool | None] | None,
    dict[str, str | int | float | bool | None] | None,
]
"""A decision as noted: agent, step, decision, reason, rule, inputs, attributes then."""


class _Trail:
    """The audit events of one request, appended together at the end.

    Decisions are kept as plain records and turned into events by :meth:`build`, which the
    audit sink may call on its writer thread: the request path only notes them.
    """

    def __init__(self, request: GatewayRequest, *, recording: bool = True) -> None:
        self.request = request
        self.recording = recording
        self.agent_id = request.meta.agent_id or "unknown"
        self.attributes: telemetry.Attributes = {}
        self.key: VirtualKey | None = None
        """The virtual key the request authenticated with, if any."""
        self.started_ns = time.time_ns()
        self.error: str | None = None
        """The code of the refusal, once a step refused."""
        self.exported = False
        self.records: list[GatewayDecision | ModelCall | _Call | _Decision] = []

    def decide(
        self,
        step: str,
        decision: str,
        *,
        reason: str = "",
        rule_id: str | None = None,
        inputs: Mapping[str, str | int | float | bool | None] | None = None,
    ) -> None:
        if decision == "refused":
            self.error = reason.partition(":")[0] or step
        if not self.recording:  # no audit store: skip building events nobody keeps
            return
        # A tuple now, the payload on the writer's thread (build): noting costs the request
        # about a third of building the dict here. The trail's attributes change later, so
        # they are copied as they are now; ``inputs`` is each caller's own fresh mapping.
        self.records.append(
            (self.agent_id, step, decision, reason[:2000], rule_id, inputs,
             self.attributes.copy() if self.attributes else None)
        )  # fmt: skip

    def model_call(self, payload: ModelCall | _Call) -> None:
        """Note the answer (a ``_Call``: its fields, validated later by :meth:`build`)."""
        if not self.recording:
            return
        self.records.append(payload)

    def build(self) -> list[NewEvent]:
        """The events of the decisions recorded so far.

        Decisions are noted already in their stored form (:func:`decision_payload`), a
        model call's fields become theirs here (:func:`model_call_payload`); both are
        marked ``payload_checked``, so the store encodes them without validating each
        against its model again (see :mod:`sentinel.gateway.audit_events`).
        """
        events = []
        request_id, tick = self.request.request_id, self.request.meta.tick
        for index, record in enumerate(self.records):
            checked = True
            if isinstance(record, _Call):
                kind, suffix = ModelCall.event_type, "model_call"
                payload, checked = model_call_payload(record.fields)
            elif isinstance(record, tuple):
                agent_id, step, decision, reason, rule_id, inputs, attributes = record
                kind, suffix = GatewayDecision.event_type, step
                payload = decision_payload(agent_id, request_id, step, decision, reason,
                                           rule_id, inputs, attributes)  # fmt: skip
            else:
                kind, payload = record.event_type, record.model_dump(mode="json")
                suffix = record.step if isinstance(record, GatewayDecision) else "model_call"
            events.append(
                NewEvent(
                    AUDIT_STREAM,
                    kind,
                    payload,
                    f"{request_id}/{index}/{suffix}",
                    tick,
                    request_id,
                    payload_checked=checked,
                )
            )
        return events


class Gateway:
    """The governed path between agents and models; thread-safe.

    Args:
        settings: Gateway settings (default: the embedded defaults).
        personas: The personas (default: ``settings.personas_dir`` or the demo personas).
        audit: Where decisions are recorded; None records nothing (benchmarks, dry runs).
        audit_ack: ``durable``: a request returns once its events are committed;
            ``queued``: once they are queued for the next group commit (see
            :mod:`sentinel.gateway.audit_sink` for what a crash can lose).
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
        audit_ack: AuditAck = "durable",
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
        self.metrics = GatewayMetrics()
        self.sink = (
            AuditSink(audit, ack=audit_ack, on_failure=self.metrics.audit_failures.inc)
            if audit is not None
            else None
        )
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
        ledger_file = ledger_path if ledger_path is not None else self.settings.budgets.ledger
        self.ledger = BudgetLedger(
            ledger_file,
            self.settings.budgets.limits,
            reservation_ttl_s=self.settings.budgets.reservation_ttl_s,
        )
        self.keys = KeyStore(ledger_file)
        self.screens = PromptScreens(self.settings.screens)
        self.synthesis = SynthesisEngine(self.settings.synthesis)
        self.learned = LearnedPatterns(self.settings.learned)
        self.budget_overrides: dict[str, BudgetLimit] = {}
        """Per-agent limits the API control plane tightened, on top of the settings'."""
        self.guards = OutputGuards(self.settings.guards, judge=judge, gates=gates)
        self.tokens = TokenCounter()
        self.spans = SpanExport(self.settings.otel) if self.settings.otel.enabled else None

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
            [None if s.request.urgent or s.plain else s.request.meta.fingerprint for s in admitted]
        )
        results: list[Any] = []
        decided = iter(decisions)
        for state in states:
            if isinstance(state, _State):
                try:
                    results.append(self._answer(state, next(decided)))
                except GatewayError as exc:
                    results.append(exc)
                except Exception as exc:  # noqa: BLE001 - a bug: answered as a 500, settled
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
                if isinstance(result, BaseException):
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
            self.record_unparsed(exc, api_key=api_key, agent_id=agent_id)
            return exc
        trail = _Trail(request, recording=self.audit is not None)
        try:
            persona, plain = self._authenticate(request, api_key, agent_id, trail)
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
            self._check_max_tokens(request, route)
            trail.decide("route", "routed", inputs={"providers": ",".join(route)})
            self.limiter.acquire(persona.id)
            trail.decide("rate_limit", "accepted")
            messages = self._screen(request, trail)
        except GatewayError as exc:
            trail.decide(_step_of(exc), "refused", reason=f"{exc.code}: {exc}")
            self._flush(trail)
            return exc
        return _State(request, persona, route, messages, trail, plain=plain)

    def record_unparsed(
        self, exc: GatewayError, *, api_key: str | None = None, agent_id: str | None = None
    ) -> None:
        """Record the refusal of a body that did not parse: hostile input is on the record.

        The agent is the key's (or the named) one, ``unknown`` when neither is known.
        """
        if self.audit is None:
            return
        trail = _Trail(_unparsed_request())
        trail.agent_id = (self.caller_for_key(api_key) if api_key else agent_id) or "unknown"
        trail.decide("parse", "refused", reason=f"{exc.code}: {exc}")
        self._flush(trail)

    def _compile(self, state: _State) -> None:
        """Step 4: the messages to send.

        The persona's prompt first, or (plain client) the client's own messages unchanged
        but for the screens' redactions.
        """
        request, trail = state.request, state.trail
        raw = _screened_wire(request, state.messages)
        if state.plain:
            state.wire = raw
            trail.decide("compile", "transparent", inputs={"messages": len(raw)})
            return
        prompt = compile_prompt(
            state.persona,
            state.messages,
            perception=request.meta.perception,
            impulse=request.meta.impulse,
            rooms=self.settings.rooms,
        )
        state.messages = prompt.messages
        system = {"role": "system", "content": prompt.messages[0][1]}
        state.wire = [system, *(m for m in raw if m["role"] not in ("system", "developer"))]
        trail.decide("compile", "compiled", inputs={"blocks": ",".join(prompt.blocks)})

    def _authenticate(
        self, request: GatewayRequest, api_key: str | None, agent_id: str | None, trail: _Trail
    ) -> tuple[Persona, bool]:
        claimed = request.meta.agent_id
        if api_key is not None:
            client = _lookup(self.settings.auth.clients, api_key)
            mapped = None if client is not None else self.agent_for_key(api_key)
            if client is None and mapped is None:
                key = self._virtual_key(api_key)
                trail.key = key
                client, mapped = (key.owner, None) if key.kind == "client" else (None, key.owner)
            if client is not None:
                if claimed is not None and claimed != client:
                    raise AgentForbiddenError(
                        f"the API key belongs to {client!r}, not to {claimed!r}"
                    )
                trail.agent_id = client
                trail.decide("authenticate", "accepted", inputs=_via(trail, "client_key"))
                return _plain_persona(client), True
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
            "authenticate", "accepted", inputs=_via(trail, "api_key" if api_key else "identity")
        )
        return persona, False

    def _virtual_key(self, api_key: str) -> VirtualKey:
        """The live virtual key ``api_key`` is, read from the ledger now (no cache).

        Raises:
            UnknownAgentError: Not a key ever issued.
            KeyRevokedError: A revoked key.
        """
        key = self.keys.find(api_key) if api_key.startswith(KEY_PREFIX) else None
        if key is None:
            raise UnknownAgentError("unknown API key")
        if key.revoked is not None:
            raise KeyRevokedError(f"the API key {key.key_id} was revoked")
        return key

    def agent_for_key(self, api_key: str) -> str | None:
        """The agent id an API key maps to, or None.

        Configured keys are either the key itself or ``sha256:<hex digest of the key>``, so
        a settings file need not hold usable keys.
        """
        return _lookup(self.settings.auth.api_keys, api_key)

    def caller_for_key(self, api_key: str) -> str | None:
        """The agent or plain client an API key maps to (a live virtual key's too), or None."""
        known = _lookup(self.settings.auth.clients, api_key) or self.agent_for_key(api_key)
        if known is None and api_key.startswith(KEY_PREFIX):
            key = self.keys.find(api_key)
            known = key.owner if key is not None and key.revoked is None else None
        return known

    def _route(self, request: GatewayRequest, persona: Persona) -> list[str]:
        if request.model in self.providers:
            return [request.model]
        for name, provider in self.providers.items():
            if provider.model == request.model:
                return [name]
        alias = self.settings.routing.aliases.get(request.model)
        if alias is not None:
            return [alias]
        if request.model != AUTO_MODEL:
            raise ModelNotFoundError(
                f"the model {request.model!r} does not exist here; ask for one of "
                + ", ".join(repr(m) for m in self.models()),
                param="model",
            )
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

    def _output_limit(self, route: Sequence[str]) -> int:
        limits = [self.settings.limits.max_output_tokens]
        for name in route:
            provider = self.providers[name]
            if isinstance(provider, LiteLLMProvider):
                known = self.tokens.output_limit("litellm", provider.model)
                if known is not None:
                    limits.append(known)
        return min(limits)

    def _check_max_tokens(self, request: GatewayRequest, route: Sequence[str]) -> None:
        if request.max_tokens is None:
            return
        limit = self._output_limit(route)
        if request.max_tokens > limit:
            raise GatewayRequestError(
                f"max_tokens: {request.max_tokens} is more than the model writes in one reply "
                f"({limit})",
                param="max_tokens",
            )

    def _max_tokens(self, state: _State) -> int:
        if state.request.max_tokens is not None:
            return state.request.max_tokens
        return min(self.settings.budgets.default_max_tokens, self._output_limit(state.route))

    def _hold_for(
        self, state: _State, wire: Sequence[Mapping[str, Any]]
    ) -> tuple[int, float, dict[str, int | float]]:
        """Tokens and money one call with ``wire`` may cost.

        The prompt as the route's tokenizers count it (the largest count), plus
        ``max_tokens`` for each choice.
        """
        max_tokens = self._max_tokens(state)
        choices = int(state.request.options.get("n") or 1)
        tools = state.request.options.get("tools")
        prompt = 0
        usd = 0.0
        for name in state.route or [OFFLINE_MODEL]:
            provider = self.providers[name]
            kind = "litellm" if isinstance(provider, LiteLLMProvider) else "offline"
            counted = self.tokens.prompt_tokens(kind, provider.model, wire, tools)
            prompt = max(prompt, counted)
            usd = max(usd, self._cost(provider.model, counted, max_tokens * choices))
        tokens = prompt + max_tokens * choices
        return tokens, usd, {"prompt_tokens": prompt, "max_tokens": max_tokens, "n": choices}

    def _extra_limits(self, state: _State) -> list[tuple[str, BudgetLimit]]:
        """The limits beyond the settings': the virtual key's, the API control plane's."""
        key = state.trail.key
        limit = key.budget() if key is not None else None
        extra = [(f"key:{key.key_id}", limit)] if key is not None and limit is not None else []
        override = self.budget_overrides.get(state.persona.id)  # set by the API control plane
        if override is not None:
            extra.append((f"control:{state.persona.id}", override))
        return extra

    def _reserve(
        self, state: _State, *, tokens: int, usd: float, inputs: Mapping[str, Any]
    ) -> None:
        state.reservation = self.ledger.reserve(
            state.persona.id,
            state.persona.team,
            tokens=tokens,
            usd=usd,
            extra=self._extra_limits(state),
        )
        state.trail.decide("budget", "reserved", inputs={**inputs, "tokens": tokens, "usd": usd})

    def _charge(self, state: _State) -> None:
        """A synthesized or learned answer: its one request charged in one transaction."""
        self.ledger.charge(state.persona.id, state.persona.team, extra=self._extra_limits(state))
        state.charged = True
        state.trail.decide("budget", "charged", inputs={"tokens": 0, "usd": 0.0, "requests": 1})

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
                self._charge(state)
                reply = ProviderReply(synthesized.text, 0, 0, "synthesis")
                return self._respond(
                    state, reply, "synthesized", "synthesis", synthesized.rule_id, 0
                )
            trail.decide("synthesize", "forward", reason=synthesized)
            learned = (
                self.learned.lookup(persona.id, request.meta.fingerprint, persona.digest())
                if request.meta.fingerprint and not request.urgent and not state.plain
                else None
            )
            if learned is not None:
                trail.decide(
                    "learned",
                    "answered",
                    inputs={"confidence": learned.confidence, "samples": learned.samples},
                )
                self._charge(state)
                reply = ProviderReply(learned.text, 0, 0, "learned")
                return self._respond(state, reply, "learned", "learned", None, 0)
            self._compile(state)
            tokens, usd, inputs = self._hold_for(state, state.wire)
            self._reserve(state, tokens=tokens, usd=usd, inputs=inputs)
            provider, reply, regenerations, usage = self._forward(state)
            if request.meta.fingerprint and not request.urgent and not state.plain:
                self.learned.observe(
                    persona.id, request.meta.fingerprint, persona.digest(), reply.text
                )
            return self._respond(state, reply, "forwarded", provider, None, regenerations, usage)
        except GatewayError as exc:
            # A refusal: charge what providers answered before it (replies that were then
            # regenerated), release the rest.
            self._unwind(state)
            trail.decide(_step_of(exc), "refused", reason=f"{exc.code}: {exc}")
            self._flush(trail)
            raise
        except Exception as exc:
            # A bug. A call that may have reached a provider is charged its whole hold (the
            # provider may have billed it); one that cannot have is released.
            self._unwind(state, charge_hold=state.calling)
            failure = GatewayInternalError(f"the gateway failed: {type(exc).__name__}")
            trail.decide("gateway", "failed", reason=f"{type(exc).__name__}: {exc}"[:2000])
            self._flush(trail)
            raise failure from exc

    def _unwind(self, state: _State, *, charge_hold: bool = False) -> None:
        reservation = state.reservation
        if reservation is None:
            return
        tokens, usd = int(state.spent[0] + state.spent[1]), float(state.spent[2])
        if charge_hold:
            tokens, usd = max(tokens, reservation.tokens), max(usd, reservation.usd)
        if tokens or usd:
            self.ledger.settle(reservation, tokens=tokens, usd=usd)
        else:
            self.ledger.release(reservation)

    def _forward(self, state: _State) -> tuple[str, ProviderReply, int, tuple[int, int, float]]:
        request, trail = state.request, state.trail
        failures: list[CallFailure] = []
        failed: list[str] = []
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
            try:
                reply, attempt = self._retried(state, name)
            except CallFailure as failure:
                failures.append(failure)
                failed.append(f"{name}: {failure}")
                continue
            self._answered(name, reply.model, trail)
            spent = state.spent
            return name, reply, attempt, (int(spent[0]), int(spent[1]), float(spent[2]))
        raise _unanswered(failures, failed, skipped or state.route)

    def _retried(self, state: _State, name: str) -> tuple[ProviderReply, int]:
        """Call provider ``name``, retrying timeouts, network errors and 5xx with backoff.

        Each failure is recorded (and counted by the breaker) before the next try; a retry
        waits ``retry_backoff_s`` x 2^n and is skipped once the breaker opens.

        Raises:
            CallFailure: The last failure, once the retries are spent.
        """
        routing = self.settings.routing
        for retry in range(routing.retries + 1):
            try:
                return self._attempts(state, self.providers[name])
            except CallFailure as failure:
                self._failed(name, failure, state.trail)
                retryable = failure.kind in ("timeout", "network", "server")
                if not retryable or retry == routing.retries or not self.breakers[name].allow():
                    raise
                state.trail.decide(
                    "forward", "retry", inputs={"provider": name, "retry": retry + 1}
                )
                time.sleep(routing.retry_backoff_s * 2**retry)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _failed(self, name: str, failure: CallFailure, trail: _Trail) -> None:
        """Record a failed call; a client fault is raised at once (never a breaker count)."""
        breaker = self.breakers[name]
        trail.decide("forward", "failed", reason=str(failure)[:500], inputs={"provider": name})
        if failure.kind == "client":
            # The request's own fault: the provider is not to blame, and another provider
            # would be sent the same input.
            breaker.forgive()
            raise UpstreamRejectedError(
                f"{name} refused the request: {failure.detail}"[:2000],
                status=failure.status or 400,
            ) from None
        if failure.counts_for_breaker:
            state_after = breaker.record(success=False)
            self.metrics.breaker_open.labels(name).set(state_after is not BreakerState.CLOSED)

    def _answered(self, name: str, model: str, trail: _Trail) -> None:
        state_after = self.breakers[name].record(success=True)
        self.metrics.breaker_open.labels(name).set(state_after is not BreakerState.CLOSED)
        trail.decide("forward", "answered", inputs={"provider": name, "model": model})

    # -- streaming -------------------------------------------------------------------------------
    def stream(
        self,
        body: bytes | str | dict[str, Any] | GatewayRequest,
        *,
        api_key: str | None = None,
        agent_id: str | None = None,
    ) -> Generator[StreamEvent, None, None]:
        """Run one request and stream the answer as the provider sends it.

        The same steps as :meth:`complete`; a forwarded reply is streamed through the
        output guards' window (:mod:`sentinel.gateway.streaming`). A synthesized or learned
        answer, or one from a provider that cannot stream, comes as one delta.

        Raises:
            GatewayError: As :meth:`complete`, before the first event (nothing was sent).
        """
        state = self._admit(body, api_key, agent_id)
        if isinstance(state, GatewayError):
            self.metrics.requests.labels(state.code, "refused").inc()
            raise state
        request = state.request
        fingerprint = None if request.urgent or state.plain else request.meta.fingerprint
        decided = self.synthesis.decide_many([fingerprint])[0]
        streamable = int(request.options.get("n") or 1) == 1 and all(
            isinstance(self.providers[n], LiteLLMProvider) for n in state.route
        )
        if isinstance(decided, Synthesized) or fingerprint or not streamable or not state.route:
            try:
                answer = self._answer(state, decided)
            except GatewayError as exc:
                self.metrics.requests.labels(exc.code, "refused").inc()
                raise
            yield StreamEvent(text=answer.text, tool_calls=answer.tool_calls)
            yield StreamEvent(done=answer)
            return
        self.metrics.synthesis.labels(decided).inc()
        state.trail.decide("synthesize", "forward", reason=decided)
        try:
            self._compile(state)
            tokens, usd, inputs = self._hold_for(state, state.wire)
            self._reserve(state, tokens=tokens, usd=usd, inputs=inputs)
            name, chunks = self._open_stream(state)
        except GatewayError as exc:
            self._unwind(state)
            state.trail.decide(_step_of(exc), "refused", reason=f"{exc.code}: {exc}")
            self._flush(state.trail)
            self.metrics.requests.labels(exc.code, "refused").inc()
            raise
        yield from self._relay(state, name, chunks)

    def _open_stream(self, state: _State) -> tuple[str, Iterator[StreamChunk]]:
        """The first provider of the route that opens a stream (its first chunk read)."""
        failures: list[CallFailure] = []
        failed: list[str] = []
        skipped: list[str] = []
        for name in state.route:
            breaker = self.breakers[name]
            if not breaker.allow() and not state.request.urgent:
                skipped.append(name)
                state.trail.decide("breaker", "skipped", reason=f"{name} is {breaker.state}")
                continue
            provider = self.providers[name]
            assert isinstance(provider, LiteLLMProvider)  # noqa: S101 - checked by stream()
            state.calling = True
            chunks = provider.stream(
                state.messages,
                max_tokens=self._max_tokens(state),
                temperature=state.request.temperature,
                options=state.request.options,
                wire=state.wire,
            )
            try:
                first = next(chunks)
            except StopIteration:
                first = StreamChunk()
            except CallFailure as failure:
                self._failed(name, failure, state.trail)
                failures.append(failure)
                failed.append(f"{name}: {failure}")
                continue
            return name, itertools.chain([first], chunks)
        raise _unanswered(failures, failed, skipped or state.route)

    def _relay(
        self, state: _State, name: str, chunks: Iterator[StreamChunk]
    ) -> Iterator[StreamEvent]:
        persona, trail = state.persona, state.trail
        guarded = self.settings.guards.plain_clients or not state.plain
        window = GuardedText(
            (lambda text: self.guards.review(text, persona).clean) if guarded else None
        )
        tools = ToolCallBuffer()
        tally = StreamTally(model=self.providers[name].model)
        try:
            yield from pump(chunks, window, tools, tally)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
            if not tally.complete:
                # Cut short (a break, a failure, the client gone): the provider may bill
                # the whole reply, so the whole hold is charged.
                self._unwind(state, charge_hold=True)
                if tally.failure is None and not window.broken:
                    trail.decide("forward", "abandoned", reason="the client left mid-stream")
                    self._flush(trail)
        if tally.failure is not None:
            self._failed(name, tally.failure, trail)
            self._flush(trail)
            yield StreamEvent(done=ProviderError(f"{name}: the stream broke off: {tally.failure}"))
            return
        self._answered(name, tally.model, trail)
        if window.broken:
            trail.decide("guards", "cut", reason="persona break in the stream; cut before it")
        else:
            trail.decide("guards", "clean" if guarded else "skipped", inputs={"attempt": 0})
        prompt = tally.prompt_tokens
        if prompt is None:
            prompt = int(self._hold_for(state, state.wire)[2]["prompt_tokens"])
        completion = tally.completion_tokens
        if completion is None:
            completion = self.tokens.prompt_tokens("offline", tally.model,
                                                   [{"content": window.released}])  # fmt: skip
        reply = ProviderReply(window.released, prompt, completion, tally.model,
                              tally.finish_reason, tool_calls=tools.result())  # fmt: skip
        if window.broken:
            yield StreamEvent(done=self._finish_cut(state, name, reply))
            return
        cost = self._cost(self.providers[name].model, prompt, completion)
        yield StreamEvent(
            done=self._respond(state, reply, "forwarded", name, None, 0, (prompt, completion, cost))
        )

    def _finish_cut(self, state: _State, name: str, reply: ProviderReply) -> GatewayResponse:
        """The answer of a stream cut by the guards (already charged its whole hold)."""
        assert state.reservation is not None  # noqa: S101 - reserved before the stream
        state.trail.decide("budget", "settled", inputs={"tokens": state.reservation.tokens,
                                                        "usd": state.reservation.usd})  # fmt: skip
        self._flush(state.trail)
        return GatewayResponse(
            request_id=state.request.request_id, agent_id=state.persona.id, model=reply.model,
            text=reply.text, actions=[], rejections=[], decision="forwarded", provider=name,
            prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
            cost_usd=state.reservation.usd, finish_reason="content_filter",
        )  # fmt: skip

    def _attempts(self, state: _State, provider: Provider) -> tuple[ProviderReply, int]:
        """Call ``provider``, regenerating while the guards find a persona break.

        At most ``max_regenerations`` times, each paid for by extending the reservation
        first; a reply still breaking persona is replaced (fail closed).

        Raises:
            CallFailure: The provider failed.
        """
        request, persona, trail = state.request, state.persona, state.trail
        max_tokens = self._max_tokens(state)
        guarded = self.settings.guards.plain_clients or not state.plain
        messages, wire = list(state.messages), list(state.wire)
        spent = state.spent  # across providers: a reply that was paid for stays paid
        temperature = request.temperature
        attempt = 0
        while True:
            state.calling = True
            reply = provider.complete(
                messages,
                persona=persona,
                max_tokens=max_tokens,
                temperature=temperature,
                options=request.options,
                wire=wire,
            )
            spent[0] += reply.prompt_tokens
            spent[1] += reply.completion_tokens
            spent[2] += self._cost(provider.model, reply.prompt_tokens, reply.completion_tokens)
            if not guarded:
                trail.decide("guards", "skipped", reason="plain client")
                return reply, attempt
            review = self.guards.review("\n".join(reply.texts()), persona)
            if review.clean:
                trail.decide("guards", "clean", inputs={"attempt": attempt})
                return reply, attempt
            self.metrics.regenerations.inc()
            trail.decide(
                "guards",
                "regenerate",
                reason=review.reason,
                inputs={"attempt": attempt, "patterns": ",".join(h.name for h in review.hits)},
            )
            correction = self.guards.correction(persona)
            messages = [*messages, ("assistant", reply.text), ("system", correction)]
            wire = [
                *wire,
                {"role": "assistant", "content": reply.text},
                {"role": "system", "content": correction},
            ]
            if attempt >= self.settings.guards.max_regenerations or not self._extend_for(
                state, wire, trail
            ):
                break
            temperature = self.settings.guards.regeneration_temperature
            attempt += 1
        # Fail closed: the breaking reply never reaches the agent.
        fallback = OfflineProvider().complete(
            state.messages, persona=persona, max_tokens=max_tokens, temperature=None
        )
        trail.decide(
            "guards",
            "replaced",
            reason=f"still breaking persona after {attempt} regeneration(s)",
        )
        replaced = ProviderReply(
            fallback.text,
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.model,
            "content_filter",
        )
        return replaced, attempt

    def _extend_for(self, state: _State, wire: Sequence[Mapping[str, Any]], trail: _Trail) -> bool:
        """Hold what one more attempt with ``wire`` may cost on top of what was spent."""
        assert state.reservation is not None  # noqa: S101 - reserved before forwarding
        tokens, usd, _ = self._hold_for(state, wire)
        spent_tokens = int(state.spent[0] + state.spent[1])
        more_tokens = max(0, spent_tokens + tokens - state.reservation.tokens)
        more_usd = max(0.0, state.spent[2] + usd - state.reservation.usd)
        try:
            state.reservation = self.ledger.extend(
                state.reservation, tokens=more_tokens, usd=more_usd
            )
        except BudgetExhaustedError as exc:
            trail.decide("budget", "refused", reason=f"no regeneration: {exc}")
            return False
        trail.decide("budget", "extended", inputs={"tokens": more_tokens, "usd": more_usd})
        return True

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
        actions: list[Action] = []
        rejections: list[Rejection] = []
        if state.plain:
            trail.decide("extract", "skipped", reason="plain client: the reply is passed through")
        else:
            extraction = extract_actions(reply.text, persona, self.settings.rooms)
            actions, rejections = extraction.actions, extraction.rejections
            for rejection in rejections:
                trail.decide(
                    "extract",
                    "rejected",
                    reason=rejection.detail,
                    inputs={"reason": rejection.reason},
                )
            trail.decide(
                "extract",
                "extracted",
                inputs={
                    "source": extraction.source,
                    "actions": len(actions),
                    "rejected": len(rejections),
                },
            )
        prompt_tokens, completion_tokens, cost = usage or (
            reply.prompt_tokens,
            reply.completion_tokens,
            self._cost(reply.model, reply.prompt_tokens, reply.completion_tokens),
        )
        if not state.charged:  # a charged answer (no tokens) has nothing left to settle
            assert state.reservation is not None  # noqa: S101 - every other answer was reserved
            self.ledger.settle(
                state.reservation, tokens=prompt_tokens + completion_tokens, usd=cost
            )
            trail.decide(
                "budget",
                "settled",
                inputs={"tokens": prompt_tokens + completion_tokens, "usd": cost},
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
                _Call(
                    {
                        "agent_id": persona.id,
                        "request_id": request.request_id,
                        "provider": provider,
                        "model": reply.model,
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "cost_usd": cost,
                        "synthesized": decision != "forwarded",
                        "key_id": trail.key.key_id if trail.key is not None else None,
                        "attributes": dict(trail.attributes),
                    }
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
            actions=actions,
            rejections=rejections,
            decision=decision,
            provider=provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            rule_id=rule_id,
            finish_reason=reply.finish_reason,
            regenerations=regenerations,
            tool_calls=reply.tool_calls,
            extra_choices=reply.extra_choices,
        )

    def _flush(self, trail: _Trail) -> None:
        if self.spans is not None and not trail.exported:
            trail.exported = True
            self.spans.record(
                start_ns=trail.started_ns,
                end_ns=time.time_ns(),
                attributes=trail.attributes,
                error=trail.error,
            )
        if self.sink is not None and trail.records:
            self.sink.submit(trail.build)

    def flush_audit(self) -> None:
        """Wait until every answered request's events are committed (``queued`` mode)."""
        if self.sink is not None:
            self.sink.flush()

    def models(self) -> list[str]:
        """Model names a request may ask for: provider names and their models."""
        names = dict.fromkeys(
            [
                *self.providers,
                *(p.model for p in self.providers.values()),
                *self.settings.routing.aliases,
                AUTO_MODEL,
            ]
        )
        return list(names)

    def close(self) -> None:
        """Commit queued audit events, send queued spans, close the budget ledger.

        The audit store belongs to the caller, who closes it after this.
        """
        if self.sink is not None:
            self.sink.close()
        self.ledger.close()
        self.keys.close()
        if self.spans is not None:
            self.spans.close()


@dataclass
class _State:
    request: GatewayRequest
    persona: Persona
    route: list[str]
    messages: list[tuple[str, str]]
    trail: _Trail
    plain: bool = False
    """A plain client: the transparent proxy (no persona prompt, no action extraction)."""
    reservation: Reservation | None = None
    charged: bool = False
    """The ledger charged the answer's one request already (synthesized, learned)."""
    wire: list[dict[str, Any]] = field(default_factory=list)
    """The messages to send, in the wire format."""
    calling: bool = False
    """A provider call has started (it may have been billed)."""
    spent: list[float] = field(default_factory=lambda: [0, 0, 0.0])
    """Prompt tokens, completion tokens and money of every provider reply so far."""


def _lookup(keys: Mapping[str, str], api_key: str) -> str | None:
    """The id ``api_key`` maps to in ``keys``, or None.

    Keys are written as themselves or as ``sha256:<hex digest>``.
    """
    digest = "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()
    found = None
    for key, owner in keys.items():
        # Compare every key in constant time so timing tells nothing about near misses.
        expected, given = (key, digest) if key.startswith("sha256:") else (key, api_key)
        if hmac.compare_digest(expected.encode(), given.encode()):
            found = owner
    return found


def _via(trail: _Trail, via: str) -> dict[str, str | int | float | bool | None]:
    """The authenticate step's inputs: how, and which virtual key (its id, never the key)."""
    if trail.key is None:
        return {"via": via}
    return {"via": "virtual_key", "key_id": trail.key.key_id}


def _unanswered(
    failures: Sequence[CallFailure], failed: Sequence[str], skipped: Sequence[str]
) -> GatewayError:
    """The refusal when no provider answered: 429 if every one was rate limiting."""
    if failures and all(f.kind == "rate_limited" for f in failures):
        waits = [f.retry_after_s for f in failures if f.retry_after_s is not None]
        return UpstreamRateLimitedError(
            "every provider is rate limiting: " + "; ".join(failed),
            retry_after_s=min(waits) if waits else DEFAULT_RETRY_AFTER_S,
        )
    if failures:
        return ProviderError("every provider failed: " + "; ".join(failed))
    return BreakerOpenError("circuit breaker open for " + ", ".join(skipped or ["(no provider)"]))


def _unparsed_request() -> GatewayRequest:
    """A stand-in for a body that did not parse, so its refusal can be recorded."""
    return GatewayRequest(new_request_id(), "", [], None, None, stream=False, meta=AgentMetadata())


def _plain_persona(client: str) -> Persona:
    """The identity a plain client is governed under (budgets, limits, audit)."""
    return Persona(id=client, name=client, role="client", team=PLAIN_TEAM)


def _screened_wire(
    request: GatewayRequest, screened: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The client's messages in the wire format, with the screens' redactions applied."""
    if len(request.raw_messages) != len(screened):  # built in-process without raw messages
        return [{"role": role, "content": text} for role, text in screened]
    wire = []
    for raw, (original, (_, text)) in zip(
        request.raw_messages, zip(request.messages, screened, strict=True), strict=True
    ):
        wire.append(raw if original[1] == text else {**raw, "content": text})
    return wire


_STEP_OF_CODE = {
    "bad_request": "parse",
    "request_too_large": "parse",
    "unknown_agent": "authenticate",
    "key_revoked": "authenticate",
    "forbidden": "authenticate",
    "rate_limited": "rate_limit",
    "prompt_blocked": "screen",
    "budget_exhausted": "budget",
    "breaker_open": "breaker",
    "provider_error": "forward",
    "model_not_found": "route",
    "upstream_rate_limited": "forward",
    "upstream_rejected": "forward",
}


def _step_of(exc: GatewayError) -> str:
    return _STEP_OF_CODE.get(exc.code, "gateway")
