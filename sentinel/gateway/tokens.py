"""Token counts for budget reservations, with the model's own tokenizer where litellm knows it.

A reservation must cover what the provider will bill, so the prompt is counted as it is
sent — the persona's system prompt included — with ``litellm.token_counter``: the model's
tokenizer when litellm maps one (tiktoken's encodings for OpenAI models, Hugging Face
tokenizers for some others), and OpenAI's ``cl100k_base`` with the chat format's overhead
per message otherwise. Both ship inside the litellm and tiktoken wheels: nothing is fetched.

The offline provider has no tokenizer; it bills :func:`estimate_tokens` (four characters a
token), so it is counted with that same function and the count is exact for it too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.gateway.providers.base import estimate_tokens, message_text
from sentinel.gateway.providers.litellm_provider import import_litellm


class TokenCounter:
    """Counts prompts for one provider kind: ``offline`` or a litellm model name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._output_limits: dict[str, int | None] = {}

    def prompt_tokens(
        self,
        kind: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Tokens of ``messages`` (and ``tools``) as ``model`` counts them."""
        if kind == "offline":
            return estimate_tokens(message_text(messages))
        litellm = import_litellm()
        counted: int = litellm.token_counter(
            model=model, messages=[dict(m) for m in messages], tools=list(tools) if tools else None
        )
        return counted

    def output_limit(self, kind: str, model: str) -> int | None:
        """The most tokens ``model`` writes in one reply, if litellm's model map says."""
        if kind == "offline":
            return None
        with self._lock:
            if model in self._output_limits:
                return self._output_limits[model]
        litellm = import_litellm()
        try:
            info = litellm.get_model_info(model)
            found = info.get("max_output_tokens") or info.get("max_tokens")
            limit = int(found) if isinstance(found, int) and found > 0 else None
        except Exception:  # noqa: BLE001 - litellm raises several kinds for unmapped models
            limit = None
        with self._lock:
            self._output_limits[model] = limit
        return limit
