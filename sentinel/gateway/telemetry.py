"""OpenTelemetry GenAI semantic-convention attributes for gateway audit events.

Attribute names follow the OpenTelemetry GenAI conventions, so an audit event maps one to
one onto a span (``gen_ai.operation.name = chat``) and a trace exporter needs no renaming.
"""

from __future__ import annotations

from typing import Final

OPERATION: Final = "gen_ai.operation.name"
PROVIDER: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
AGENT_ID: Final = "gen_ai.agent.id"
AGENT_NAME: Final = "gen_ai.agent.name"
CONVERSATION_ID: Final = "gen_ai.conversation.id"

Attributes = dict[str, str | int | float | bool | None]


def request_attributes(
    *,
    request_id: str,
    model: str,
    agent_id: str | None,
    agent_name: str | None,
    max_tokens: int | None,
    temperature: float | None,
) -> Attributes:
    """Attributes known once a request is parsed and its agent is known."""
    return {
        OPERATION: "chat",
        REQUEST_MODEL: model,
        REQUEST_MAX_TOKENS: max_tokens,
        REQUEST_TEMPERATURE: temperature,
        CONVERSATION_ID: request_id,
        AGENT_ID: agent_id,
        AGENT_NAME: agent_name,
    }


def response_attributes(
    *,
    request_id: str,
    provider: str,
    response_model: str,
    input_tokens: int,
    output_tokens: int,
    finish_reason: str,
) -> Attributes:
    """Attributes of an answered request."""
    return {
        PROVIDER: provider,
        RESPONSE_ID: request_id,
        RESPONSE_MODEL: response_model,
        RESPONSE_FINISH_REASONS: finish_reason,
        INPUT_TOKENS: input_tokens,
        OUTPUT_TOKENS: output_tokens,
    }
