"""The payloads of the gateway's audit events, built straight in their stored form.

``GatewayDecision.model_validate(fields).model_dump(mode="json")`` cost about 14 µs an
event, nine events a synthesized request, on the audit writer's thread, which shares the
interpreter with the request threads. The fields here come from the pipeline's own typed
code, so these functions build the same dictionaries directly (``inputs``,
``attributes`` and ``key_id`` left out when empty, ``cost_usd`` a float), and the events
are marked ``payload_checked``. ``tests/gateway/test_audit_events.py`` pins each function
to its model's dump with hypothesis. A model call whose numbers an upstream reported
negative is not marked: the store's validation refuses it as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Scalar = str | int | float | bool | None


def decision_payload(
    agent_id: str,
    request_id: str,
    step: str,
    decision: str,
    reason: str,
    rule_id: str | None,
    inputs: Mapping[str, Scalar] | None,
    attributes: Mapping[str, Scalar] | None,
) -> dict[str, Any]:
    """A ``gateway.decision`` payload in its stored form.

    The dictionary :class:`~sentinel.audit.event_types.GatewayDecision` dumps: empty
    ``inputs`` and ``attributes`` omitted, both copied (the trail's attributes change later).
    """
    payload: dict[str, Any] = {
        "agent_id": agent_id,
        "request_id": request_id,
        "step": step,
        "decision": decision,
        "reason": reason,
        "rule_id": rule_id,
    }
    if inputs:
        payload["inputs"] = dict(inputs)
    if attributes:
        payload["attributes"] = dict(attributes)
    return payload


def model_call_payload(fields: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """A ``gateway.model_call`` payload in its stored form, and whether it is sound.

    The dictionary :class:`~sentinel.audit.event_types.ModelCall` dumps: ``cost_usd`` a
    float, empty ``key_id`` and ``attributes`` omitted.

    Args:
        fields: The model call's fields as the pipeline notes them (all of them given).

    Returns:
        The payload, and False when a token count or the cost is negative or not a number
        (an upstream's report): the store's validation then refuses it, naming the field.
    """
    prompt, completion = fields["prompt_tokens"], fields["completion_tokens"]
    cost = fields["cost_usd"]
    sound = (
        type(prompt) is int
        and type(completion) is int
        and type(cost) in (int, float)
        and prompt >= 0
        and completion >= 0
        and cost >= 0
    )
    if not sound:
        return dict(fields), False
    payload: dict[str, Any] = {
        "agent_id": fields["agent_id"],
        "request_id": fields["request_id"],
        "provider": fields["provider"],
        "model": fields["model"],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": float(cost),
        "synthesized": fields["synthesized"],
    }
    if fields.get("key_id"):
        payload["key_id"] = fields["key_id"]
    if fields.get("attributes"):
        payload["attributes"] = dict(fields["attributes"])
    return payload, True
