"""Forwarding through litellm (``openai/...``, ``ollama/...``, any OpenAI-compatible server).

litellm is imported on first use: its import takes about 3 s. It runs with its local cost
map (``LITELLM_LOCAL_MODEL_COST_MAP=True``), so importing it never reaches the network.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import (
    CallFailure,
    ProviderReply,
    StreamChunk,
    estimate_tokens,
)
from sentinel.gateway.settings import ProviderSettings

HTTP_TOO_MANY_REQUESTS = 429
HTTP_REQUEST_TIMEOUT = 408
HTTP_SERVER_ERROR = 500
HTTP_CLIENT_ERROR = 400


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


def retry_after(exc: BaseException) -> float | None:
    """Seconds from the ``Retry-After`` header of the provider's response, if it sent one."""
    headers = getattr(exc, "headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):  # an HTTP date: not worth parsing, the caller waits 1 s
        return None


def classify(exc: BaseException) -> CallFailure:
    """Map a litellm/OpenAI exception to a :class:`CallFailure` kind.

    A 4xx other than 408 and 429 is ``client``: the request was at fault. So is an error
    without an HTTP status that is neither a timeout nor a connection failure (litellm
    refusing a parameter, text it cannot encode): nothing says the provider is unwell.
    """
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if "Timeout" in name or status == HTTP_REQUEST_TIMEOUT:
        return CallFailure("timeout", str(exc), status=status)
    if status == HTTP_TOO_MANY_REQUESTS:
        return CallFailure("rate_limited", str(exc), status=status, retry_after_s=retry_after(exc))
    if status is not None and status >= HTTP_SERVER_ERROR:
        return CallFailure("server", str(exc), status=status)
    if "Connection" in name or isinstance(exc, OSError):
        return CallFailure("network", str(exc), status=status)
    if status is not None and status >= HTTP_CLIENT_ERROR:
        return CallFailure("client", str(exc), status=status)
    # No status and no transport failure: raised by litellm before or without an exchange
    # (text it cannot encode, a parameter it refuses). Nothing says the provider is unwell.
    return CallFailure("client", f"{name}: {exc}", status=HTTP_CLIENT_ERROR)


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

    def _kwargs(
        self,
        messages: Sequence[tuple[str, str]],
        max_tokens: int,
        temperature: float | None,
        options: Mapping[str, Any] | None,
        wire: Sequence[Mapping[str, Any]] | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            **(options or {}),
            "model": self.settings.model,
            "messages": [dict(m) for m in wire]
            if wire is not None
            else [{"role": role, "content": text} for role, text in messages],
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
        return kwargs

    def stream(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        max_tokens: int,
        temperature: float | None,
        options: Mapping[str, Any] | None = None,
        wire: Sequence[Mapping[str, Any]] | None = None,
    ) -> Iterator[StreamChunk]:
        """Stream the reply as the provider sends it; the last chunk carries the usage.

        Raises:
            CallFailure: Opening the stream or reading it failed.
        """
        litellm = import_litellm()
        kwargs = self._kwargs(messages, max_tokens, temperature, options, wire)
        kwargs.update(stream=True, stream_options={"include_usage": True})
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise classify(exc) from exc
        try:
            for chunk in response:
                usage = getattr(chunk, "usage", None)
                piece = StreamChunk(model=getattr(chunk, "model", None))
                if chunk.choices:
                    choice = chunk.choices[0]
                    delta = choice.delta
                    piece.text = getattr(delta, "content", None) or ""
                    calls = getattr(delta, "tool_calls", None)
                    piece.tool_calls = [_plain(c) for c in calls] if calls else None
                    piece.finish_reason = choice.finish_reason
                if usage is not None:
                    piece.prompt_tokens = getattr(usage, "prompt_tokens", None)
                    piece.completion_tokens = getattr(usage, "completion_tokens", None)
                yield piece
        except CallFailure:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            close = getattr(response, "close", None)
            if callable(close):
                close()

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
        """Forward to the model with the provider's deadline.

        No retries here: the gateway routes to the fallback and the breaker counts.
        """
        litellm = import_litellm()
        kwargs = self._kwargs(messages, max_tokens, temperature, options, wire)
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
        tool_calls = getattr(choice.message, "tool_calls", None)
        return ProviderReply(
            text=text,
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
            model=str(getattr(response, "model", None) or self.settings.model),
            finish_reason=str(choice.finish_reason or "stop"),
            tool_calls=[_plain(call) for call in tool_calls] if tool_calls else None,
            extra_choices=[_plain(c) for c in response.choices[1:]],
        )


def _plain(obj: Any) -> dict[str, Any]:  # noqa: ANN401 - litellm's pydantic objects
    """A litellm response object as a JSON dict."""
    dumped = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
    return {key: value for key, value in dumped.items() if value is not None}
