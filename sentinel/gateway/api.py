"""The OpenAI-compatible HTTP API.

Routes: ``/v1/chat/completions``, ``/v1/models``, ``/v1/models/{id}``, ``/health``,
``/metrics``, ``/stats`` (synthesis decisions and intercept rate per rule, as JSON; it
needs a key), and the admin API of :mod:`sentinel.gateway.admin` (virtual keys, spend;
it needs the admin key).

Requests run through :meth:`Gateway.complete` (or :meth:`Gateway.stream`) in a worker
thread, so the HTTP path takes exactly the library's steps (budgets, limits, screens,
guards). ``stream: true`` is served as server-sent events as the provider streams, through
the output guards' window (:mod:`sentinel.gateway.streaming`); the budget is settled and the
audit written when the stream ends. Every error, an unknown path included, is JSON in OpenAI's
shape, ``{"error": {"message", "type", "param", "code"}}``, with the status of the
:class:`~sentinel.errors.GatewayError` subclass; a fault inside the gateway is a JSON 500
(``internal_error``), never a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Generator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from sentinel.errors import (
    GatewayError,
    GatewayInternalError,
    GatewayRequestError,
    ModelNotFoundError,
    RateLimitedError,
    UnknownAgentError,
    UnknownRouteError,
)
from sentinel.gateway.admin import AdminAuth, admin_routes, bearer_token
from sentinel.gateway.pipeline import Gateway, GatewayResponse
from sentinel.gateway.request import GatewayRequest, parse_request, read_body
from sentinel.gateway.streaming import StreamEvent

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
"""``error.type`` by status, as OpenAI's API names them; any 5xx is ``server_error``."""
HTTP_METHOD_NOT_ALLOWED = 405


def error_body(exc: GatewayError) -> dict[str, Any]:
    """OpenAI's error shape for ``exc``."""
    kind = ERROR_TYPES.get(
        exc.status, "server_error" if exc.status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": str(exc), "type": kind, "param": exc.param, "code": exc.code}}


def error_response(exc: GatewayError) -> JSONResponse:
    """The JSON error body and status for a refusal."""
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no route), in OpenAI's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = UnknownRouteError(f"Invalid URL ({request.method} {request.url.path})")
    if status == HTTP_METHOD_NOT_ALLOWED:
        error = UnknownRouteError(f"{request.method} is not allowed on {request.url.path}")
        error.status = HTTP_METHOD_NOT_ALLOWED
    return error_response(error)


async def _internal_error(_: Request, exc: Exception) -> Response:
    """A fault inside the gateway: a JSON 500 that says no more than its kind."""
    return error_response(GatewayInternalError(f"the gateway failed: {type(exc).__name__}"))


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


async def _stream(
    request: GatewayRequest, first: StreamEvent, events: Generator[StreamEvent, None, None]
) -> AsyncIterator[bytes]:
    base = {"id": request.request_id, "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.model}  # fmt: skip
    yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]})  # fmt: skip

    async def all_events() -> AsyncIterator[StreamEvent]:
        yield first
        async for event in iterate_in_threadpool(events):
            yield event

    try:
        async for chunk in _chunks(base, all_events()):
            yield chunk
    finally:
        # The client may have left mid-stream: end the pipeline's stream now (it charges
        # the hold and records the abandonment) rather than whenever it is collected.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(events.close)


async def _chunks(base: dict[str, Any], events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        if isinstance(event.done, GatewayError):
            yield _sse(error_body(event.done))
            break
        if isinstance(event.done, GatewayResponse):
            answer = event.done
            body = answer.to_openai()
            yield _sse({**base, "model": answer.model, "choices": [
                {"index": 0, "delta": {}, "finish_reason": answer.finish_reason}],
                "usage": body["usage"], "sentinel": body["sentinel"]})  # fmt: skip
            break
        delta: dict[str, Any] = {}
        if event.text:
            delta["content"] = event.text
        if event.tool_calls:
            delta["tool_calls"] = event.tool_calls
        yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield _sse("[DONE]")


def create_app(gateway: Gateway, admin: AdminAuth | None = None) -> Starlette:
    """The Starlette application serving ``gateway``.

    Args:
        gateway: The gateway to serve.
        admin: The admin key check of the admin API (default: from ``gateway.settings``
            and the environment).

    Raises:
        ConfigError: The admin key is too short.
    """
    limit = gateway.settings.limits.max_body_bytes
    admin = admin if admin is not None else AdminAuth(gateway.settings.admin)

    async def chat_completions(request: Request) -> Response:
        try:
            try:
                raw = await read_body(request, limit)
                parsed = parse_request(raw, gateway.settings.limits)
            except GatewayError as exc:
                gateway.record_unparsed(exc, api_key=bearer_token(request) or "")
                raise
            if parsed.stream:
                # Steps 1-5 and the provider's first chunk run before the response starts,
                # so a refusal still gets its status code.
                events = gateway.stream(parsed, api_key=bearer_token(request) or "")
                first = await run_in_threadpool(next, events)
                return StreamingResponse(
                    _stream(parsed, first, events), media_type="text/event-stream"
                )
            answer = await run_in_threadpool(
                gateway.complete, parsed, api_key=bearer_token(request) or ""
            )
        except GatewayError as exc:
            if isinstance(exc, GatewayRequestError):
                gateway.metrics.requests.labels(exc.code, "refused").inc()
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - a bug: JSON 500, already audited and settled
            return error_response(GatewayInternalError(f"the gateway failed: {type(exc).__name__}"))
        return JSONResponse(answer.to_openai())

    def known_key(request: Request) -> bool:
        return gateway.caller_for_key(bearer_token(request) or "") is not None

    async def models(request: Request) -> Response:
        if not known_key(request):
            return error_response(UnknownAgentError("unknown API key"))
        now = int(time.time())
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": now, "owned_by": "sentinel"}
            for name in gateway.models()]})  # fmt: skip

    async def model(request: Request) -> Response:
        if not known_key(request):
            return error_response(UnknownAgentError("unknown API key"))
        name = request.path_params["model"]
        if name not in gateway.models():
            return error_response(
                ModelNotFoundError(f"the model {name!r} does not exist here", param="model")
            )
        return JSONResponse(
            {"id": name, "object": "model", "created": int(time.time()), "owned_by": "sentinel"}
        )

    async def health(_: Request) -> Response:
        breakers = {name: str(b.state) for name, b in gateway.breakers.items()}
        return JSONResponse({"status": "ok", "breakers": breakers})

    async def stats(request: Request) -> Response:
        # Intercept rates per rule describe the agents' traffic: callers with a key only.
        if not known_key(request):
            return error_response(UnknownAgentError("unknown API key"))
        return JSONResponse({"synthesis": gateway.synthesis.stats()})

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(gateway.metrics.render(), media_type="text/plain; version=0.0.4")

    return Starlette(
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", model, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/stats", stats, methods=["GET"]),
            *admin_routes(gateway, admin, error_response),
        ],
    )
