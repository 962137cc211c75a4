"""The admin API: virtual keys (create, list, revoke) and spend reports.

Routes, in the shape LiteLLM's proxy uses: ``POST /key/generate``, ``GET /key/list``,
``POST /key/delete`` and ``GET /spend``. Every call needs the admin key
(``Authorization: Bearer <admin key>`` or ``x-api-key``), compared in constant time with
the configured one (:class:`AdminAuth`); the key is never logged nor recorded. Every call,
refused ones included, is a ``gateway.admin`` event, committed before the response is sent.
Errors are JSON in OpenAI's shape, like the data plane's.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sentinel.audit.event_types import GatewayAdmin
from sentinel.audit.events import NewEvent
from sentinel.errors import (
    AdminAuthError,
    ConfigError,
    GatewayError,
    GatewayRequestError,
    KeyNotFoundError,
)
from sentinel.gateway.persona import AGENT_ID_PATTERN
from sentinel.gateway.pipeline import AUDIT_STREAM, Gateway
from sentinel.gateway.request import decode_json, invalid_member, read_body
from sentinel.gateway.settings import AdminSettings
from sentinel.gateway.spend import SpendFilter, SpendIndex

MAX_ADMIN_BODY_BYTES = 16_384
"""Admin requests are small; a larger body is refused with 413, like the data plane's."""
MIN_ADMIN_KEY_LENGTH = 16
"""An admin key shorter than this is refused at start-up: guessable keys are no guard."""

_M = TypeVar("_M", bound=BaseModel)
AdminAction = Literal["key.create", "key.list", "key.revoke", "spend.read"]


class AdminAuth:
    """Checks the admin key; holds only its SHA-256 digest.

    Args:
        settings: ``admin.key`` (itself or ``sha256:<hex>``) or the variable ``admin.key_env``.
        environ: The environment to read ``key_env`` from.

    Raises:
        ConfigError: The admin key from the environment is shorter than 16 characters.
    """

    def __init__(self, settings: AdminSettings, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        configured = settings.key or env.get(settings.key_env) or None
        if configured is not None and not configured.startswith("sha256:"):
            if len(configured) < MIN_ADMIN_KEY_LENGTH:
                raise ConfigError(
                    f"the admin key must be at least {MIN_ADMIN_KEY_LENGTH} characters",
                    field=f"admin.key or ${settings.key_env}",
                )
            configured = _digest(configured)
        self._digest = configured

    @property
    def enabled(self) -> bool:
        """True when an admin key is configured."""
        return self._digest is not None

    def check(self, given: str | None) -> bool:
        """True when ``given`` is the admin key (constant time in the key's contents)."""
        if self._digest is None or not given:
            return False
        return hmac.compare_digest(self._digest.encode(), _digest(given).encode())


def _digest(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyBudget(BaseModel):
    """A virtual key's own budget: tokens and/or requests per hour or day."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    period: Literal["hour", "day"] = "day"
    tokens: int | None = Field(default=None, ge=0)
    requests: int | None = Field(default=None, ge=0)


class GenerateKey(BaseModel):
    """Body of ``POST /key/generate``: exactly one of ``client_id`` and ``agent_id``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    client_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN)
    key_alias: str | None = Field(default=None, max_length=200)
    budget: KeyBudget | None = None

    @model_validator(mode="after")
    def _one_owner(self) -> GenerateKey:
        if (self.client_id is None) == (self.agent_id is None):
            raise ValueError("give exactly one of client_id and agent_id")
        return self


class DeleteKeys(BaseModel):
    """Body of ``POST /key/delete``: the key ids to revoke."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key_ids: list[str] = Field(min_length=1, max_length=1000)


def admin_routes(
    gateway: Gateway, auth: AdminAuth, on_error: Callable[[GatewayError], Response]
) -> list[Route]:
    """The admin API's routes for ``gateway``, guarded by ``auth``.

    Args:
        gateway: The gateway whose keys and audit trail the routes use.
        auth: The admin key check.
        on_error: Turns a refusal into the response (the data plane's OpenAI error shape).
    """
    # The /spend aggregate: each report reads on from where the last one stopped.
    index = SpendIndex(gateway.audit) if gateway.audit is not None else None

    def record(payload: GatewayAdmin) -> None:
        if gateway.sink is None:
            return
        gateway.sink.submit(lambda: [NewEvent.of(payload, stream=AUDIT_STREAM)])
        gateway.flush_audit()  # an admin action is on the record before it is acknowledged

    async def guarded(request: Request, action: AdminAction, handler: Any) -> Response:  # noqa: ANN401 - an async callable
        try:
            if not auth.check(bearer_token(request)):
                reason = "no admin key is configured" if not auth.enabled else "wrong admin key"
                await run_in_threadpool(
                    record,
                    GatewayAdmin(action=action, decision="refused", admin="unknown", reason=reason),
                )
                raise AdminAuthError(f"admin API: {reason}")
            result: Response = await handler(request)
        except GatewayError as exc:
            return on_error(exc)
        return result

    async def generate(request: Request) -> Response:
        body = await _parse(request, GenerateKey)
        kind: Literal["client", "agent"] = "client" if body.client_id else "agent"
        owner = body.client_id or body.agent_id or ""
        inputs = {"kind": kind, **_budget_inputs(body.budget)}
        if kind == "agent" and owner not in gateway.personas:
            await run_in_threadpool(record, GatewayAdmin(
                action="key.create", decision="refused", admin="admin", owner=owner,
                reason="unknown agent", inputs=inputs))  # fmt: skip
            raise GatewayRequestError(f"agent_id: no persona {owner!r}", param="agent_id")
        budget = body.budget or KeyBudget()
        key, made = await run_in_threadpool(
            lambda: gateway.keys.create(
                kind, owner, alias=body.key_alias,
                period=budget.period if body.budget else None,
                tokens=budget.tokens, requests=budget.requests,
            )
        )  # fmt: skip
        await run_in_threadpool(record, GatewayAdmin(
            action="key.create", decision="accepted", admin="admin", key_id=made.key_id,
            owner=owner, inputs=inputs))  # fmt: skip
        return JSONResponse({"key": key, **made.to_json()})

    async def list_keys(request: Request) -> Response:
        include = request.query_params.get("include_revoked", "true").lower() != "false"
        keys = await run_in_threadpool(lambda: gateway.keys.list_keys(include_revoked=include))
        await run_in_threadpool(
            record, GatewayAdmin(action="key.list", decision="accepted", admin="admin")
        )
        return JSONResponse({"object": "list", "data": [k.to_json() for k in keys]})

    async def delete(request: Request) -> Response:
        body = await _parse(request, DeleteKeys)
        unknown = [k for k in body.key_ids if gateway.keys.get(k) is None]
        if unknown:
            await run_in_threadpool(record, GatewayAdmin(
                action="key.revoke", decision="refused", admin="admin", key_id=unknown[0],
                reason="no such key"))  # fmt: skip
            raise KeyNotFoundError(f"no virtual key {unknown[0]!r}; nothing was revoked")
        revoked = []
        for key_id in body.key_ids:
            done = await run_in_threadpool(gateway.keys.revoke, key_id)
            assert done is not None  # noqa: S101 - checked above; keys are never deleted
            await run_in_threadpool(record, GatewayAdmin(
                action="key.revoke", decision="accepted", admin="admin", key_id=key_id,
                owner=done.owner))  # fmt: skip
            revoked.append(done.to_json())
        return JSONResponse({"object": "list", "data": revoked})

    async def spend(request: Request) -> Response:
        where = _spend_filter(request)
        if index is None:
            raise GatewayRequestError("this gateway records no audit trail: no spend to report")
        await run_in_threadpool(gateway.flush_audit)
        rows = await run_in_threadpool(index.report, where)
        await run_in_threadpool(record, GatewayAdmin(
            action="spend.read", decision="accepted", admin="admin",
            inputs={k: str(v) for k, v in asdict(where).items() if v is not None}))  # fmt: skip
        return JSONResponse({"object": "list", "data": [asdict(row) for row in rows]})

    def route(path: str, action: AdminAction, handler: Any, method: str) -> Route:  # noqa: ANN401 - an async callable
        async def endpoint(request: Request) -> Response:
            return await guarded(request, action, handler)

        return Route(path, endpoint, methods=[method])

    return [
        route("/key/generate", "key.create", generate, "POST"),
        route("/key/list", "key.list", list_keys, "GET"),
        route("/key/delete", "key.revoke", delete, "POST"),
        route("/spend", "spend.read", spend, "GET"),
    ]


def bearer_token(request: Request) -> str | None:
    """The client's key: ``Authorization: Bearer <key>``, else ``x-api-key`` (both APIs)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


async def _parse(request: Request, model: type[_M]) -> _M:
    data = decode_json(await read_body(request, MAX_ADMIN_BODY_BYTES))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_member(exc, data) from None


def _spend_filter(request: Request) -> SpendFilter:
    params = request.query_params
    unknown = set(params) - {"since", "until", "key_id", "agent_id", "model"}
    if unknown:
        name = sorted(unknown)[0]
        raise GatewayRequestError(f"unknown query parameter {name!r}", param=name)
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        value = params.get(name)
        try:
            days[name] = date.fromisoformat(value) if value else None
        except ValueError:
            raise GatewayRequestError(
                f"{name}: {value!r} is not a date (YYYY-MM-DD)", param=name
            ) from None
    return SpendFilter(
        since=days["since"], until=days["until"], key_id=params.get("key_id"),
        agent_id=params.get("agent_id"), model=params.get("model"),
    )  # fmt: skip


def _budget_inputs(budget: KeyBudget | None) -> dict[str, str | int | float | bool | None]:
    if budget is None:
        return {}
    return {"period": budget.period, "tokens": budget.tokens, "requests": budget.requests}
