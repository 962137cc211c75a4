"""Synthesis rules: each reachable, each action valid for the personas, provenance in the
audit trail, and the intercept rate per rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.gateway import DEMO_PERSONAS, Gateway
from sentinel.gateway.actions import check
from sentinel.gateway.fingerprint import parse_fingerprint
from sentinel.gateway.settings import DEFAULT_ROOMS, SynthesisSettings
from sentinel.gateway.synthesis import SynthesisEngine, Synthesized
from tests.gateway.conftest import chat, fingerprint, settings_with

# One fingerprint per default rule that reaches it (and no earlier rule).
REACHING = {
    "bladder_urgent": {"B": 9},
    "hunger_urgent": {"H": 9},
    "exhausted": {"E": 1},
    "coffee": {"C": 1, "E": 4},
    "morning_boot": {"T": 6, "E": 7},
    "lunch": {"T": 12, "H": 7},
    "too_warm": {"TMP": 1},
    "too_loud": {"N": 1},
    "focused_alone": {"P": 0},
    "calm_company": {"P": 3},
}


def test_every_rule_is_reachable() -> None:
    engine = SynthesisEngine(SynthesisSettings())
    assert set(REACHING) == {rule.id for rule in engine.rules}
    for rule_id, changes in REACHING.items():
        result = engine.decide(fingerprint(**changes))
        assert isinstance(result, Synthesized), rule_id
        assert result.rule_id == rule_id


def test_forwarding_outcomes() -> None:
    engine = SynthesisEngine(SynthesisSettings())
    assert engine.decide(fingerprint(HR=1, B=9)) == "gated"
    assert engine.decide(fingerprint(S=8, P=2)) == "no_rule"  # stressed with company: a model
    assert engine.decide("garbage") == "malformed"
    assert engine.decide(None) == "no_fingerprint"


@pytest.mark.parametrize("persona", DEMO_PERSONAS, ids=lambda p: p.id)
@pytest.mark.parametrize("temperament", ["I", "E"])
def test_rule_actions_are_valid_for_every_persona(persona: object, temperament: str) -> None:
    engine = SynthesisEngine(SynthesisSettings())
    for changes in REACHING.values():
        result = engine.decide(fingerprint(PE=temperament, **changes))
        assert isinstance(result, Synthesized)
        assert result.action.action_type != "tool_use"
        checked = check(result.action.model_dump(), persona, DEFAULT_ROOMS)  # type: ignore[arg-type]
        assert checked == result.action, (result.rule_id, checked)


def test_template_follows_temperament() -> None:
    engine = SynthesisEngine(SynthesisSettings())
    intro, extro = engine.decide(fingerprint(B=9, PE="I")), engine.decide(fingerprint(B=9, PE="E"))
    assert isinstance(intro, Synthesized) and isinstance(extro, Synthesized)
    assert intro.action.content != extro.action.content


def test_provenance_names_rule_and_inputs(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "audit.db") as store:
        gw = Gateway(settings_with(), audit=store, ledger_path=":memory:")
        fp = fingerprint(C=1, E=4, PE="E")
        answer = gw.complete(chat("tick", agent_id="DEMO-01", fingerprint=fp), agent_id="DEMO-01")
        assert answer.decision == "synthesized" and answer.rule_id == "coffee"
        events = [e for e in store.read() if e.correlation_id == answer.request_id]
    synth = [e for e in events if e.payload.get("step") == "synthesize"]
    assert len(synth) == 1
    payload = synth[0].payload
    assert payload["rule_id"] == "coffee"
    fields = parse_fingerprint(fp)
    assert fields is not None
    # The rule's conditions (C, E), the gate's (HR, CH, IM) and the temperament, with values.
    assert payload["inputs"] == {k: fields[k] for k in ("C", "CH", "E", "HR", "IM", "PE")}
    call = next(e for e in events if e.type == "gateway.model_call")
    assert call.payload["synthesized"] is True
    assert call.payload["attributes"]["gen_ai.operation.name"] == "chat"
    gw.close()


def test_intercept_rate_is_reported_per_rule() -> None:
    engine = SynthesisEngine(SynthesisSettings())
    batch = [fingerprint(B=9)] * 3 + [fingerprint(P=0)] * 5 + [fingerprint(HR=1)] * 2
    engine.decide_many(batch)
    stats = engine.stats()
    assert stats["bladder_urgent"] == {"count": 3, "rate": 0.3}
    assert stats["focused_alone"] == {"count": 5, "rate": 0.5}
    assert stats["gated"] == {"count": 2, "rate": 0.2}
    assert stats["lunch"]["count"] == 0
    assert sum(s["count"] for s in stats.values()) == len(batch)


def test_urgent_requests_are_never_synthesized(gateway: Gateway) -> None:
    fp = fingerprint(B=9)
    answer = gateway.complete(chat("Dana, do you have a minute?", fingerprint=fp, addressed=True),
                              agent_id="DEMO-01")  # fmt: skip
    assert answer.decision == "forwarded"


def test_batch_entry_point_decides_in_one_call(gateway: Gateway) -> None:
    bodies = [chat("tick", fingerprint=fingerprint(**c)) for c in REACHING.values()]
    answers = gateway.complete_many(bodies, agent_ids=["DEMO-01"] * len(bodies))
    assert [a.rule_id for a in answers] == list(REACHING)
