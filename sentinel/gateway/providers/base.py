"""What every provider offers: one blocking call with a deadline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sentinel.gateway.persona import Persona

CHARS_PER_TOKEN = 4
"""Token estimate where a provider reports none: about four characters of English text per
token (the usual rule of thumb for BPE tokenizers); budgets reserve with it."""


def estimate_tokens(text: str) -> int:
    """A token count estimate for ``text`` (at least 1 for non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class ProviderReply:
    """A model's reply and the usage it reported (or that was estimated)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str = "stop"


class CallFailure(Exception):  # noqa: N818 - an outcome, raised inside the gateway only
    """A provider call failed.

    Args:
        kind: ``timeout``, ``network``, ``server`` (5xx), ``rate_limited`` (429) or
            ``client`` (other 4xx: the request's fault, not the provider's).
        detail: What the provider said.
    """

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
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
    ) -> ProviderReply:
        """Answer ``messages``; raises :class:`CallFailure` on failure."""
        ...
