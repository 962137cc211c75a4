"""Forwarding through litellm (``openai/...``, ``ollama/...``, any OpenAI-compatible server).

litellm is imported on first use: its import takes about 3 s. It runs with its local cost
map (``LITELLM_LOCAL_MODEL_COST_MAP=True``), so importing it never reaches the network.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import CallFailure, ProviderReply, estimate_tokens
from sentinel.gateway.settings import ProviderSettings

HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500


@functools.cache
def import_litellm() -> ModuleType:
    """Import litellm once, offline, with its import-time warnings silenced."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import litellm  # noqa: PLC0415 - lazy on purpose: the import takes ~3 s

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    module: ModuleType = litellm
    return module


def classify(exc: BaseException) -> CallFailure:
    """Map a litellm/OpenAI exception to a :class:`CallFailure` kind."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if "Timeout" in name:
        return CallFailure("timeout", str(exc))
    if isinstance(status, int) and status == HTTP_TOO_MANY_REQUESTS:
        return CallFailure("rate_limited", str(exc))
    if isinstance(status, int) and status >= HTTP_SERVER_ERROR:
        return CallFailure("server", str(exc))
    if "Connection" in name or isinstance(exc, OSError):
        return CallFailure("network", str(exc))
    if isinstance(status, int):
        return CallFailure("client", str(exc))
    return CallFailure("network", f"{name}: {exc}")


class LiteLLMProvider:
    """A provider reached through ``litellm.completion``.

    Args:
        settings: Model string, base URL, key variable, deadline; ``mock_response`` makes
            litellm answer without a network call (used by the benchmarks).
    """

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.model = settings.model

    def complete(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        persona: Persona,
        max_tokens: int,
        temperature: float | None,
    ) -> ProviderReply:
        """Forward to the model with the provider's deadline.

        No retries here: the gateway routes to the fallback and the breaker counts.
        """
        litellm = import_litellm()
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [{"role": role, "content": text} for role, text in messages],
            "max_tokens": max_tokens,
            "timeout": self.settings.deadline_s,
            "num_retries": 0,
        }
        if temperature is not None:
            kwargs["temperature"] = temperature
        if self.settings.api_base:
            kwargs["api_base"] = self.settings.api_base
        if self.settings.api_key_env:
            kwargs["api_key"] = os.environ.get(self.settings.api_key_env, "")
        if self.settings.mock_response is not None:
            kwargs["mock_response"] = self.settings.mock_response
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise classify(exc) from exc
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None) or estimate_tokens(
            " ".join(t for _, t in messages)
        )
        completion = getattr(usage, "completion_tokens", None) or estimate_tokens(text)
        return ProviderReply(
            text=text,
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
            model=str(getattr(response, "model", None) or self.settings.model),
            finish_reason=str(choice.finish_reason or "stop"),
        )
