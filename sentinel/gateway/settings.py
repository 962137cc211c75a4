"""Gateway settings: providers, routing, breaker, limits, budgets, screens, synthesis.

The defaults of these models are the embedded defaults; ``config/gateway.toml`` spells out
the same values (a test keeps the two equal). Constants from the reference testbed say so
with ``SEED_NOTES``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentinel.errors import ConfigError
from sentinel.gateway.persona import AGENT_ID_PATTERN
from sentinel.toml_model import load_model

DEFAULT_SETTINGS_PATH = Path("config/gateway.toml")
"""Where ``sentinel-run gateway serve`` looks first, relative to the working directory."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(_Model):
    """One model provider.

    ``kind = "offline"`` is the built-in deterministic provider (no key, no network);
    ``kind = "litellm"`` forwards through litellm to ``model`` (``openai/gpt-4o-mini``,
    ``ollama/llama3`` ...), with ``api_base`` and the key read from ``api_key_env``.
    """

    name: str = Field(pattern=AGENT_ID_PATTERN)
    kind: Literal["offline", "litellm"]
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    deadline_s: float = Field(default=20.0, gt=0, le=30)
    """SEED_NOTES, Guardrails: provider deadline 20 s (10-30); tests use shorter ones."""
    mock_response: str | None = None
    """litellm answers with this text and makes no call (benchmarks, dry runs)."""


AUTO_MODEL = "auto"
"""The model name that lets the gateway choose: the persona's override, primary, fallback."""


class RoutingSettings(_Model):
    """Provider order: a persona's override, then ``primary``, then ``fallback``.

    A request's ``model`` is a provider's name, a provider's model, a key of ``aliases``
    (mapped to a provider name) or ``auto``; any other name is refused with 404
    ``model_not_found`` rather than silently answered by another model.
    """

    primary: str = "offline"
    fallback: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)
    retries: int = Field(default=0, ge=0, le=5)
    """Retries on the same provider after a timeout, network error or 5xx, before the
    fallback (0: straight to the fallback, the breaker counting each failure)."""
    retry_backoff_s: float = Field(default=0.25, ge=0, le=10)
    """The first retry's wait; each further retry waits twice as long."""


class BreakerSettings(_Model):
    """Circuit breaker per provider (SEED_NOTES, Gateway)."""

    window_s: float = Field(default=20.0, gt=0)
    min_requests: int = Field(default=20, ge=1)
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    consecutive_failures: int = Field(default=5, ge=1)
    open_s: float = Field(default=30.0, gt=0)
    half_open_probes: int = Field(default=3, ge=1)


class RateLimitSettings(_Model):
    """Token buckets: per agent and global, refilled per minute, ``burst`` x the rate deep.

    SEED_NOTES, Guardrails: 20 req/min per agent, 300 req/min global, burst x2.
    """

    agent_per_minute: float = Field(default=20.0, gt=0)
    global_per_minute: float = Field(default=300.0, gt=0)
    burst: float = Field(default=2.0, ge=1)


class BudgetLimit(_Model):
    """A limit on one scope and period; each set member (tokens, usd, requests) is enforced.

    ``scope = "agent"`` and ``"team"`` apply to each agent or team separately.
    """

    scope: Literal["agent", "team", "global"]
    period: Literal["hour", "day"]
    tokens: int | None = Field(default=None, ge=0)
    usd: float | None = Field(default=None, ge=0)
    requests: int | None = Field(default=None, ge=0)


class BudgetSettings(_Model):
    """Reserve-before-call, settle-after-call budgets in a SQLite ledger."""

    ledger: str = "sentinel-gateway-ledger.db"
    reservation_ttl_s: float = Field(default=120.0, gt=0)
    default_max_tokens: int = Field(default=512, ge=1)
    limits: tuple[BudgetLimit, ...] = (
        # SEED_NOTES, Guardrails: 5M tokens/h, 50M tokens/day.
        BudgetLimit(scope="agent", period="hour", tokens=5_000_000),
        BudgetLimit(scope="agent", period="day", tokens=50_000_000),
    )


class Price(_Model):
    """US dollars per million input and output tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ScreenRule(_Model):
    """A prompt screen: a pattern (Python ``re``, case-insensitive) and what to do on a hit."""

    name: str
    kind: Literal["secret", "injection"]
    pattern: str
    action: Literal["block", "redact", "flag"]

    @model_validator(mode="after")
    def _compiles(self) -> Self:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return self


DEFAULT_SCREENS: tuple[ScreenRule, ...] = (
    ScreenRule(name="private_key", kind="secret", action="block",
               pattern=r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ScreenRule(name="aws_access_key", kind="secret", action="redact",
               pattern=r"\bAKIA[0-9A-Z]{16}\b"),
    ScreenRule(name="api_token", kind="secret", action="redact",
               pattern=r"\b(?:sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9-]{10,})"),
    ScreenRule(name="ignore_instructions", kind="injection", action="block",
               pattern=r"\b(?:ignore|disregard|forget) (?:all |any )?(?:the )?"
                       r"(?:previous|prior|above|earlier) (?:instructions|rules|prompts?)"),
    ScreenRule(name="role_override", kind="injection", action="flag",
               pattern=r"(?:<\|im_start\|>|\byou are now (?:DAN|in developer mode)\b"
                       r"|\bsystem prompt:)"),
)  # fmt: skip


class SynthesisRule(_Model):
    """A rule that answers without a model: conditions over the fingerprint, an action.

    ``when`` holds conditions such as ``B>=9`` or ``R~^meeting_`` (see
    :mod:`sentinel.gateway.fingerprint`); ``introvert`` and ``extrovert`` are the action's
    content for either temperament.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    when: tuple[str, ...] = Field(min_length=1)
    action_type: Literal["chat", "move", "emote", "work", "break", "think"]
    target: str | None = None
    introvert: str = Field(min_length=1)
    extrovert: str = Field(min_length=1)


DEFAULT_RULES: tuple[SynthesisRule, ...] = (
    # SEED_NOTES, Gateway: the reference's order, first match wins. Window and headphones
    # are emotes (no tool the personas hold); the last two need calm, awake agents instead
    # of catching every request.
    SynthesisRule(id="bladder_urgent", when=("B>=9",), action_type="move", target="bathroom",
                  introvert="Quietly heads to the bathroom.",
                  extrovert="Be right back, bathroom break!"),
    SynthesisRule(id="hunger_urgent", when=("H>=9",), action_type="move", target="kitchen",
                  introvert="Slips off to the kitchen for something to eat.",
                  extrovert="Starving! Going to the kitchen, anyone coming?"),
    SynthesisRule(id="exhausted", when=("E<=1",), action_type="break", target="break_room",
                  introvert="Takes a short break alone.",
                  extrovert="Taking five, my brain is fried."),
    SynthesisRule(id="coffee", when=("C<=1", "E<=5"), action_type="move", target="kitchen",
                  introvert="Gets a coffee without a word.",
                  extrovert="Coffee run! Who wants one?"),
    SynthesisRule(id="morning_boot", when=("T>=6", "T<=7", "E>5"), action_type="work",
                  introvert="Boots the PC and reads mail.",
                  extrovert="Morning all! Booting up and going through mail."),
    SynthesisRule(id="lunch", when=("T>=12", "T<=13", "H>5"), action_type="move",
                  target="kitchen", introvert="Takes lunch in the kitchen.",
                  extrovert="Lunch time! Kitchen, anyone?"),
    SynthesisRule(id="too_warm", when=("TMP==1",), action_type="emote", target="window",
                  introvert="Opens the window a little.",
                  extrovert="It's boiling in here, opening the window!"),
    SynthesisRule(id="too_loud", when=("N==1",), action_type="emote", target="close_window",
                  introvert="Shuts the window against the noise, or puts on headphones.",
                  extrovert="Way too loud in here! Window shut, or headphones on."),
    SynthesisRule(id="focused_alone", when=("P==0", "S<=5", "E>=4"), action_type="work",
                  introvert="Works quietly on the current task.",
                  extrovert="Gets into the current task, humming."),
    SynthesisRule(id="calm_company", when=("P>0", "S<=3", "E>=4"), action_type="work",
                  introvert="Keeps working with headphones half on.",
                  extrovert="Works on, chatting now and then."),
)  # fmt: skip


class SynthesisSettings(_Model):
    """Rule synthesis: the gate (SEED_NOTES: not heard, no chaos, no impulse) and rules."""

    enabled: bool = True
    gate: tuple[str, ...] = ("HR==0", "CH==0", "IM==0")
    rules: tuple[SynthesisRule, ...] = DEFAULT_RULES

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self


class LearnedSettings(_Model):
    """Learned patterns (SEED_NOTES, Gateway: promote / probe / decay)."""

    enabled: bool = True
    promote_confidence: float = Field(default=0.90, gt=0, le=1)
    min_samples: int = Field(default=50, ge=1)
    probe_every: int = Field(default=100, ge=1)
    persona_change_factor: float = Field(default=0.5, gt=0, le=1)
    max_patterns: int = Field(default=100_000, ge=1)
    """Patterns kept in memory; the least recently used is dropped beyond this."""


class GuardSettings(_Model):
    """Output guards: self-recognition detector, judge, bounded regeneration (SEED_NOTES)."""

    detector: bool = True
    plain_clients: bool = False
    """Run the detector and judge on plain clients' replies too (off: a plain client asked
    for the model, not for a persona; a break has nothing to break)."""
    judge_clean_confidence: float = Field(default=0.8, ge=0, le=1)
    max_regenerations: int = Field(default=2, ge=0)
    regeneration_temperature: float = Field(default=0.3, ge=0, le=2)


class RequestLimits(_Model):
    """Limits on the request itself."""

    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_messages: int = Field(default=256, ge=1)
    max_output_tokens: int = Field(default=131_072, ge=1)
    """Largest ``max_tokens`` for models whose limit litellm's model map does not give (the
    offline provider, unmapped models): 128 Ki, above the limits it gives for OpenAI's
    models (gpt-4o-mini 16,384; o1 100,000). A larger ``max_tokens`` is a 400."""


class AuthSettings(_Model):
    """API keys of the HTTP API, each mapped to an agent id.

    A key is written as itself or as ``sha256:<hex digest>`` of it.
    """

    api_keys: dict[str, str] = Field(default_factory=lambda: {"sentinel-dev": "DEMO-01"})
    clients: dict[str, str] = Field(default_factory=dict)
    """Keys of plain clients (not company personas), each mapped to a client id: they get a
    transparent proxy — no persona prompt, no action extraction — with budgets (scope
    ``agent`` is the client id, ``team`` is ``clients``), rate limits, screens and audit."""

    @model_validator(mode="after")
    def _ids(self) -> Self:
        for key, client in self.clients.items():
            if re.fullmatch(AGENT_ID_PATTERN, client) is None:
                raise ValueError(f"client id {client!r} must match {AGENT_ID_PATTERN}")
            if key in self.api_keys:
                raise ValueError("a key is listed both as an agent's and a client's")
        return self


class AdminSettings(_Model):
    """The admin API (virtual keys, spend reports): who may call it.

    The admin key is read from the environment variable ``key_env`` (so it need not sit in
    a settings file), or given as ``key``, itself or ``sha256:<hex digest>``. With neither
    the admin API refuses every call (401).
    """

    key: str | None = Field(default=None, min_length=16)
    key_env: str = "SENTINEL_GATEWAY_ADMIN_KEY"


class OtelSettings(_Model):
    """Export of each request's ``gen_ai`` span over OTLP/HTTP (protobuf); off by default.

    Needs the ``otel`` extra (``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``).
    """

    enabled: bool = False
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    """OTLP/HTTP's default port (4318) and traces path, per the OTLP specification."""
    service_name: str = Field(default="sentinel-gateway", min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    batch_delay_ms: int = Field(default=1000, ge=1)
    """Spans wait at most this long to be sent in a batch (the SDK's default is 5 s)."""


DEFAULT_ROOMS: tuple[str, ...] = (
    "entrance", "corridor", "kitchen", "office_1", "office_2", "design_office",
    "meeting_a", "meeting_b", "bathroom", "break_room", "server_room",
)  # fmt: skip


class GatewaySettings(_Model):
    """Everything the gateway reads from ``config/gateway.toml``."""

    providers: tuple[ProviderSettings, ...] = (
        ProviderSettings(name="offline", kind="offline", model="offline"),
    )
    routing: RoutingSettings = RoutingSettings()
    breaker: BreakerSettings = BreakerSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    budgets: BudgetSettings = BudgetSettings()
    prices: dict[str, Price] = Field(
        default_factory=lambda: {"offline": Price(input_per_mtok=0, output_per_mtok=0)}
    )
    default_price: Price = Price(input_per_mtok=1.0, output_per_mtok=3.0)
    screens: tuple[ScreenRule, ...] = DEFAULT_SCREENS
    synthesis: SynthesisSettings = SynthesisSettings()
    learned: LearnedSettings = LearnedSettings()
    guards: GuardSettings = GuardSettings()
    limits: RequestLimits = RequestLimits()
    auth: AuthSettings = AuthSettings()
    admin: AdminSettings = AdminSettings()
    otel: OtelSettings = OtelSettings()
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    personas_dir: str | None = None

    @model_validator(mode="after")
    def _providers_known(self) -> Self:
        names = [provider.name for provider in self.providers]
        if len(names) != len(set(names)):
            raise ValueError("provider names must be unique")
        for which in ("primary", "fallback"):
            name = getattr(self.routing, which)
            if name is not None and name not in names:
                raise ValueError(f"routing.{which} names unknown provider {name!r}")
        for alias, name in self.routing.aliases.items():
            if name not in names:
                raise ValueError(f"routing.aliases.{alias} names unknown provider {name!r}")
        return self

    def provider(self, name: str) -> ProviderSettings:
        """The provider called ``name``.

        Raises:
            ConfigError: No provider has that name.
        """
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise ConfigError(f"no provider named {name!r}", field="providers")

    def price(self, model: str) -> Price:
        """The price of ``model``, or the default price for models not in the table."""
        return self.prices.get(model, self.default_price)


def load_settings(path: Path | str | None = None) -> GatewaySettings:
    """Load gateway settings from a TOML file; the embedded defaults when ``path`` is None.

    Raises:
        ConfigError: The file is missing, not TOML, or a field is invalid; names both.
    """
    if path is None:
        return GatewaySettings()
    return load_model(GatewaySettings, Path(path), what="gateway settings")
