"""What every provider offers: one blocking call with a deadline."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.gateway.persona import Persona

CHARS_PER_TOKEN = 4
"""Token estimate where a provider reports none: about four characters of English text per
token (the usual rule of thumb for BPE tokenizers); budgets reserve with it."""


def estimate_tokens(text: str) -> int:
    """A token count estimate for ``text`` (at least 1 for non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """Everything a provider reads of ``messages``, as the offline provider counts it."""
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if message.get("tool_calls"):
            parts.append(json.dumps(message["tool_calls"], ensure_ascii=False))
    return " ".join(parts)


@dataclass(frozen=True)
class ProviderReply:
    """A model's reply and the usage it reported (or that was estimated)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None
    """The assistant message's ``tool_calls``, passed back to the client unchanged."""
    extra_choices: list[dict[str, Any]] = field(default_factory=list)
    """Choices after the first (``n > 1``), as the provider sent them."""

    def texts(self) -> list[str]:
        """The text of every choice (what the output guards read)."""
        return [
            self.text,
            *(str((c.get("message") or {}).get("content") or "") for c in self.extra_choices),
        ]


@dataclass
class StreamChunk:
    """One piece of a streamed reply: text, tool-call deltas, and at the end the usage."""

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None


class CallFailure(Exception):  # noqa: N818 - an outcome, raised inside the gateway only
    """A provider call failed.

    Args:
        kind: ``timeout``, ``network``, ``server`` (5xx), ``rate_limited`` (429) or
            ``client`` (other 4xx: the request's fault, not the provider's).
        detail: What the provider said.
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{kind}: {detail}")

    @property
    def counts_for_breaker(self) -> bool:
        """Timeouts, network errors, 5xx and 429 say the provider is unwell (SEED_NOTES)."""
        return self.kind in ("timeout", "network", "server", "rate_limited")


class Provider(Protocol):
    """A model provider."""

    name: str
    model: str

    def complete(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        persona: Persona,
        max_tokens: int,
        temperature: float | None,
        options: Mapping[str, Any] | None = None,
        wire: Sequence[Mapping[str, Any]] | None = None,
    ) -> ProviderReply:
        """Answer ``messages``; raises :class:`CallFailure` on failure.

        ``options`` are the client's forwarded chat-completions members (``tools``,
        ``stop``, ``n`` ...); ``wire`` the same messages in the wire format (with
        ``tool_calls``, ``tool_call_id``, content parts), to send instead of ``messages``.
        """
        ...
