"""Step 1: parse and normalize a request (OpenAI chat completions + Sentinel metadata).

Agents send the standard chat-completions body; Sentinel's own metadata rides in a
``sentinel`` member (the official ``openai`` client sends it with ``extra_body``)::

    {"model": "offline", "messages": [...],
     "sentinel": {"agent_id": "DEMO-01", "tick": 42,
                  "fingerprint": "H:3|E:6|...", "perception": {"room": "office_1"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sentinel.audit.uuid7 import uuid7
from sentinel.errors import GatewayRequestError, RequestTooLargeError
from sentinel.gateway.persona import AGENT_ID_PATTERN
from sentinel.gateway.settings import RequestLimits

if TYPE_CHECKING:
    from starlette.requests import Request

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have. OpenAI's own schema needs about
eight (a JSON schema in ``response_format`` or ``tools`` a few more); 64 leaves room and
keeps every later step (validation, logging, forwarding) far from Python's recursion limit."""
INT64_MAX = 2**63 - 1
"""Largest integer SQLite stores (ticks land in the audit store, token counts in the ledger)."""
MAX_CHOICES = 128
"""OpenAI's upper bound on ``n``."""
FORWARDED_OPTIONS = (
    "tools", "tool_choice", "parallel_tool_calls", "n", "response_format", "stop", "seed",
    "top_p", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
    "top_logprobs", "user",
)  # fmt: skip
"""Chat-completions members the gateway passes to the provider unchanged (when set)."""


class ChatMessage(BaseModel):
    """One message; ``content`` may be text or a list of content parts (text is kept)."""

    model_config = ConfigDict(extra="ignore")
    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = Field(default=None, max_length=256)
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        """The message's text; text parts joined by newlines, other parts dropped."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class AgentMetadata(BaseModel):
    """Sentinel's metadata about the calling agent (all optional)."""

    model_config = ConfigDict(extra="forbid")
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN)
    tick: int | None = Field(default=None, ge=0, le=INT64_MAX)
    fingerprint: str | None = Field(default=None, max_length=1024)
    perception: dict[str, str | int | float | bool] = Field(default_factory=dict)
    addressed: bool = False
    """Another agent spoke to this one directly: urgent, never synthesized."""
    impulse: str | None = Field(default=None, max_length=4096)
    """An operator impulse, compiled into the inner-voice block."""


class ChatRequestBody(BaseModel):
    """The chat-completions request members the gateway reads; others are ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    temperature: float | None = Field(default=None, ge=0, le=2)
    stream: bool = False
    user: str | None = Field(default=None, max_length=256)
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    response_format: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-INT64_MAX - 1, le=INT64_MAX)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    sentinel: AgentMetadata = Field(default_factory=lambda: AgentMetadata())  # noqa: PLW0108 - typed factory


@dataclass
class GatewayRequest:
    """A normalized request: what every later step reads."""

    request_id: str
    model: str
    messages: list[tuple[str, str]]
    max_tokens: int | None
    temperature: float | None
    stream: bool
    meta: AgentMetadata
    body_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    """The members of :data:`FORWARDED_OPTIONS` the client set, forwarded unchanged."""
    raw_messages: list[dict[str, Any]] = field(default_factory=list)
    """The messages as sent (with ``tool_calls``, ``tool_call_id``, content parts)."""

    @property
    def urgent(self) -> bool:
        """Directly addressed or carrying an impulse: never synthesized (SEED_NOTES)."""
        return self.meta.addressed or self.meta.impulse is not None

    def last_user_text(self) -> str:
        """The last user message's text ('' if there is none)."""
        for role, text in reversed(self.messages):
            if role == "user":
                return text
        return ""


def new_request_id() -> str:
    """A time-ordered request id (``req_`` + UUIDv7)."""
    return "req_" + uuid7().replace("-", "")


def normalize(
    body: ChatRequestBody, *, request_id: str | None = None, size: int = 0
) -> GatewayRequest:
    """Turn a validated body into a :class:`GatewayRequest`."""
    return GatewayRequest(
        request_id=request_id or new_request_id(),
        model=body.model,
        messages=[(message.role, message.text()) for message in body.messages],
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        stream=body.stream,
        meta=body.sentinel,
        body_bytes=size,
        options={
            name: getattr(body, name)
            for name in FORWARDED_OPTIONS
            if getattr(body, name) is not None
        },
        raw_messages=[message.model_dump(exclude_none=True) for message in body.messages],
    )


def check_json(data: object) -> None:
    """Refuse what JSON allows but no later step can carry.

    Nesting deeper than :data:`MAX_JSON_DEPTH`, and strings (or keys) with lone surrogates,
    which cannot be encoded as UTF-8 (a JSON escape of U+D800 is valid JSON).

    Iterative, so a hostile depth cannot exhaust the stack.

    Raises:
        GatewayRequestError: Naming the member (``messages.0.content``).
    """
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise GatewayRequestError(
                    f"{path or 'body'}: nested more than {MAX_JSON_DEPTH} levels deep",
                    param=path or None,
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = str(key)
                if isinstance(key, str):
                    _check_text(key, path)
                stack.append((item, f"{path}.{name}" if path else name, depth + 1))


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
"""Type names pydantic puts in an error's location to say which member of a union failed."""


def _member(data: object, loc: tuple[int | str, ...]) -> str:
    """The dotted path of ``loc`` in ``data``, without pydantic's union tags (``str``)."""
    parts: list[str] = []
    node = data
    for part in loc:
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if inside:
            node = node[part]  # type: ignore[index]
        elif isinstance(node, dict) and str(part).isidentifier() and part not in _UNION_TAGS:
            parts.append(str(part))  # a required member that is missing
            break
        else:
            continue  # a union's tag ("str", "list[dict[str,any]]")
        parts.append(str(part))
    return ".".join(parts)


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GatewayRequestError(
            f"{path or 'body'}: the text holds a lone surrogate at character {exc.start} "
            "(not encodable as UTF-8)",
            param=path or None,
        ) from None


async def read_body(request: Request, limit: int) -> bytes:
    """Read an HTTP request's body, refusing it once it is over ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before anything is read.

    Raises:
        RequestTooLargeError: The body is over ``limit`` bytes.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"request body of {declared} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLargeError(f"request body is over the limit of {limit} bytes")
    return bytes(body)


def decode_json(raw: bytes) -> object:
    """Decode a JSON body and :func:`check_json` it.

    Raises:
        GatewayRequestError: Not JSON, nested too deep, or a string with a lone surrogate.
    """
    try:
        data: object = json.loads(raw)
    except RecursionError:
        raise GatewayRequestError(f"body: nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5,000-digit int
        raise GatewayRequestError(f"request body is not JSON: {exc}") from None
    check_json(data)
    return data


def invalid_member(error: ValidationError, data: object) -> GatewayRequestError:
    """The client error for pydantic's first error: its message, naming the member as ``param``."""
    first = error.errors()[0]
    where = _member(data, first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return GatewayRequestError(f"{where or 'body'}: {message}", param=where or None)


def parse_request(
    raw: bytes | str | dict[str, Any], limits: RequestLimits, *, request_id: str | None = None
) -> GatewayRequest:
    """Parse a chat-completions body (bytes, text or an already decoded dict).

    Raises:
        RequestTooLargeError: The body is over ``limits.max_body_bytes``.
        GatewayRequestError: Not JSON, or a member is invalid; the message names it.
    """
    if isinstance(raw, dict):
        check_json(raw)
        size = len(json.dumps(raw).encode())
        data: object = raw
    else:
        encoded = raw.encode() if isinstance(raw, str) else raw
        size = len(encoded)
        if size > limits.max_body_bytes:
            raise RequestTooLargeError(
                f"request body of {size} bytes is over the limit of {limits.max_body_bytes}"
            )
        data = decode_json(encoded)
    if size > limits.max_body_bytes:
        raise RequestTooLargeError(
            f"request body of {size} bytes is over the limit of {limits.max_body_bytes}"
        )
    try:
        body = ChatRequestBody.model_validate(data)
    except ValidationError as exc:
        raise invalid_member(exc, data) from None
    if len(body.messages) > limits.max_messages:
        raise GatewayRequestError(
            f"messages: {len(body.messages)} messages, at most {limits.max_messages} allowed",
            param="messages",
        )
    return normalize(body, request_id=request_id, size=size)
