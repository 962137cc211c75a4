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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sentinel.audit.uuid7 import uuid7
from sentinel.errors import GatewayRequestError, RequestTooLargeError
from sentinel.gateway.persona import AGENT_ID_PATTERN
from sentinel.gateway.settings import RequestLimits

Role = Literal["system", "developer", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    """One message; ``content`` may be text or a list of content parts (text is kept)."""

    model_config = ConfigDict(extra="ignore")
    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

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
    tick: int | None = Field(default=None, ge=0)
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
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    stream: bool = False
    user: str | None = None
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
    )


def parse_request(
    raw: bytes | str | dict[str, Any], limits: RequestLimits, *, request_id: str | None = None
) -> GatewayRequest:
    """Parse a chat-completions body (bytes, text or an already decoded dict).

    Raises:
        RequestTooLargeError: The body is over ``limits.max_body_bytes``.
        GatewayRequestError: Not JSON, or a member is invalid; the message names it.
    """
    if isinstance(raw, dict):
        size = len(json.dumps(raw).encode())
        data: object = raw
    else:
        encoded = raw.encode() if isinstance(raw, str) else raw
        size = len(encoded)
        if size > limits.max_body_bytes:
            raise RequestTooLargeError(
                f"request body of {size} bytes is over the limit of {limits.max_body_bytes}"
            )
        try:
            data = json.loads(encoded)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GatewayRequestError(f"request body is not JSON: {exc}") from None
    if size > limits.max_body_bytes:
        raise RequestTooLargeError(
            f"request body of {size} bytes is over the limit of {limits.max_body_bytes}"
        )
    try:
        body = ChatRequestBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise GatewayRequestError(f"{where}: {first['msg']}") from None
    if len(body.messages) > limits.max_messages:
        raise GatewayRequestError(
            f"messages: {len(body.messages)} messages, at most {limits.max_messages} allowed"
        )
    return normalize(body, request_id=request_id, size=size)
