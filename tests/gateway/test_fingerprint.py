"""The native synthesis matcher against its Python reference (hypothesis), and the
fingerprint grammar."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.errors import InvalidInputError
from sentinel.gateway.fingerprint import (
    DECISION_GATED,
    DECISION_MALFORMED,
    DECISION_NO_RULE,
    FIELDS,
    MAX_VALUE,
    Matcher,
    ReferenceMatcher,
    format_fingerprint,
    parse_fingerprint,
)
from sentinel.gateway.settings import SynthesisSettings
from tests.gateway.conftest import CALM, fingerprint

ROOMS = ["office_1", "office_2", "kitchen", "meeting_a", "meeting_b", "bathroom"]

numbers = {key: st.integers(0, top) for key, top in MAX_VALUE.items()}
valid_fields = st.fixed_dictionaries(
    {**numbers, "R": st.sampled_from(ROOMS), "PE": st.sampled_from(["I", "E"])}
)


@st.composite
def fingerprints(draw: st.DrawFn) -> str:
    """Mostly valid fingerprints, in any field order, with some mangled ones."""
    fields = draw(valid_fields)
    parts = [f"{key}:{value}" for key, value in fields.items()]
    parts = draw(st.permutations(parts))
    mangle = draw(st.sampled_from(["none"] * 6 + ["drop", "dup", "range", "junk", "empty"]))
    if mangle == "drop":
        parts = parts[1:]
    elif mangle == "dup":
        parts = [*parts, parts[0]]
    elif mangle == "range":
        parts = [*parts[1:], "H:10"] if not parts[0].startswith("H:") else [*parts[1:], "E:99"]
    elif mangle == "junk":
        parts = [*parts[:-1], draw(st.text(max_size=6))]
    elif mangle == "empty":
        return ""
    return "|".join(parts)


number_conditions = st.builds(
    lambda key, op, value: f"{key}{op}{value}",
    st.sampled_from(sorted(MAX_VALUE)),
    st.sampled_from([">=", "<=", "==", "!=", "<", ">"]),
    st.integers(-1, 25),
)
text_conditions = st.one_of(
    st.builds(
        lambda op, room: f"R{op}{room}", st.sampled_from(["==", "!="]), st.sampled_from(ROOMS)
    ),
    st.builds(
        lambda p: f"R~{p}", st.sampled_from(["^office", "meeting_", "kitchen$", "^(bath|kit)"])
    ),
    st.builds(
        lambda op, v: f"PE{op}{v}", st.sampled_from(["==", "!="]), st.sampled_from(["I", "E"])
    ),
)
conditions = st.one_of(number_conditions, text_conditions)
rule_sets = st.tuples(
    st.lists(conditions, max_size=3),
    st.lists(st.lists(conditions, min_size=1, max_size=4), max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(rule_sets, st.lists(fingerprints(), max_size=30))
def test_native_equals_reference(rules: tuple[list[str], list[list[str]]], fps: list[str]) -> None:
    gate, body = rules
    native = Matcher(gate, body)
    reference = ReferenceMatcher(gate, body)
    assert native.decide_many(fps) == reference.decide_many(fps)
    assert [native.decide(fp) for fp in fps] == reference.decide_many(fps)


@settings(max_examples=200, deadline=None)
@given(valid_fields)
def test_parse_round_trips(fields: dict[str, int | str]) -> None:
    assert parse_fingerprint(format_fingerprint(fields)) == fields


def test_default_rules_native_equals_reference_on_every_state_bucket() -> None:
    synthesis = SynthesisSettings()
    rules = [rule.when for rule in synthesis.rules]
    fps = [fingerprint(B=b, H=h, E=e, C=c, T=t, P=p, S=s, TMP=tmp, N=n, HR=hr)
           for b in (2, 9) for h in (3, 6, 9) for e in (0, 1, 4, 6) for c in (0, 4)
           for t in (6, 9, 12) for p in (0, 2) for s in (1, 5, 8) for tmp in (0, 1)
           for n in (0, 1) for hr in (0, 1)]  # fmt: skip
    assert Matcher(synthesis.gate, rules).decide_many(fps) == ReferenceMatcher(
        synthesis.gate, rules
    ).decide_many(fps)


def test_decision_codes() -> None:
    matcher = Matcher(["HR==0"], [["B>=9"]])
    assert matcher.decide(fingerprint(B=9)) == 0
    assert matcher.decide(fingerprint()) == DECISION_NO_RULE
    assert matcher.decide(fingerprint(HR=1)) == DECISION_GATED
    assert matcher.decide("H:3") == DECISION_MALFORMED
    assert len(matcher) == 1
    assert set(CALM) == set(FIELDS)


@pytest.mark.parametrize("bad", ["Z>1", "H 3", "R>=2", "H~x", "R~(", "H>=x"])
def test_bad_conditions_are_refused_by_both(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="condition"):
        _native.SynthesisMatcher([], [["B>=9"], [bad]])
    with pytest.raises((ValueError, Exception)):
        ReferenceMatcher([], [[bad]])
