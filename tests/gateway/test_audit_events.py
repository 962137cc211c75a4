"""The gateway's payloads built in their stored form equal their typed models' dumps, so
marking them ``payload_checked`` (no validation in the store) stores the same bytes; a
payload that is not sound is left to the store's validation, which refuses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sentinel import _native
from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import GatewayDecision, ModelCall
from sentinel.errors import InvalidEventError
from sentinel.gateway.audit_events import decision_payload, model_call_payload

texts = st.text(max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | texts
    | st.floats(allow_nan=False, allow_infinity=False)
)
mappings = st.dictionaries(texts, scalars, max_size=4)


@given(texts, texts, texts, texts, texts, st.none() | texts, st.none() | mappings, mappings)
def test_decision_payload_is_the_models_dump(
    agent_id: str,
    request_id: str,
    step: str,
    decision: str,
    reason: str,
    rule_id: str | None,
    inputs: dict[str, Any] | None,
    attributes: dict[str, Any],
) -> None:
    built = decision_payload(agent_id, request_id, step, decision, reason, rule_id, inputs,
                             attributes)  # fmt: skip
    typed = GatewayDecision(
        agent_id=agent_id, request_id=request_id, step=step, decision=decision, reason=reason,
        rule_id=rule_id, inputs=dict(inputs or {}), attributes=dict(attributes),
    ).model_dump(mode="json")  # fmt: skip
    assert built == typed
    assert _native.canonical_json(built) == _native.canonical_json(typed)


counts = st.integers(0, 2**40)
costs = st.integers(0, 10**6) | st.floats(0, 1e6, allow_nan=False)


@given(texts, texts, texts, texts, counts, counts, costs, st.booleans(), st.none() | texts,
       mappings)  # fmt: skip
def test_model_call_payload_is_the_models_dump(
    agent_id: str,
    request_id: str,
    provider: str,
    model: str,
    prompt: int,
    completion: int,
    cost: float,
    synthesized: bool,
    key_id: str | None,
    attributes: dict[str, Any],
) -> None:
    fields = {
        "agent_id": agent_id, "request_id": request_id, "provider": provider, "model": model,
        "prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": cost,
        "synthesized": synthesized, "key_id": key_id, "attributes": attributes,
    }  # fmt: skip
    built, checked = model_call_payload(fields)
    typed = ModelCall.model_validate(fields).model_dump(mode="json")
    assert checked
    assert built == typed
    assert _native.canonical_json(built) == _native.canonical_json(typed)


def _call(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "agent_id": "DEMO-01", "request_id": "r-1", "provider": "up", "model": "m",
        "prompt_tokens": 3, "completion_tokens": 4, "cost_usd": 0.5, "synthesized": False,
        "key_id": None, "attributes": {},
    }  # fmt: skip
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    ("field", "value"),
    [("completion_tokens", -1), ("prompt_tokens", -5), ("cost_usd", -0.1),
     ("cost_usd", float("nan")), ("prompt_tokens", "12"), ("completion_tokens", True)],
)  # fmt: skip
def test_unsound_model_calls_go_to_the_stores_validation(
    tmp_path: Path, field: str, value: object
) -> None:
    """An upstream's negative or odd usage is not marked checked: the store validates it as
    before (refused naming the field, or coerced as the model coerces it). The negative
    control: marked checked, a negative count would be stored as given."""
    payload, checked = model_call_payload(_call(**{field: value}))
    assert not checked
    with AuditStore(tmp_path / "audit.db") as store:
        try:
            typed = ModelCall.model_validate(payload).model_dump(mode="json")
        except ValidationError:
            with pytest.raises(InvalidEventError, match=field):
                store.append_batch([NewEvent("gateway", "gateway.model_call", payload)])
        else:
            stored = store.append_batch([NewEvent("gateway", "gateway.model_call", payload)])
            assert stored[0].payload == typed
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            marked = NewEvent("gateway", "gateway.model_call", payload, payload_checked=True)
            assert store.append_batch([marked])[0].payload[field] == value


def test_untrusted_events_are_still_validated(tmp_path: Path) -> None:
    """Without the mark, a registered type's payload is validated as before."""
    with AuditStore(tmp_path / "audit.db") as store, pytest.raises(InvalidEventError, match="step"):
        store.append_batch(
            [NewEvent("gateway", "gateway.decision", {"agent_id": "a", "request_id": "r"})]
        )
