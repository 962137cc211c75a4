"""Native canonical JSON pinned to the Python reference, and to RFC 8785's rules."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sentinel.audit.canonical import canonical_json, es_number, reference_canonical_json
from sentinel.errors import InvalidEventError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_native_matches_reference(value: object) -> None:
    assert canonical_json(value) == reference_canonical_json(value)


def _has_huge_integral_float(value: object) -> bool:
    if isinstance(value, float):
        return value.is_integer() and abs(value) >= 2**63
    if isinstance(value, list):
        return any(_has_huge_integral_float(item) for item in value)
    if isinstance(value, dict):
        return any(_has_huge_integral_float(item) for item in value.values())
    return False


@given(json_values)
def test_output_is_json_that_round_trips(value: object) -> None:
    # ECMAScript writes 1.8e19 as "18000000000000000000", which JSON parsers read back as an
    # integer beyond 64 bits; the log never re-encodes decoded events, so only those differ.
    assume(not _has_huge_integral_float(value))
    decoded = json.loads(canonical_json(value))
    assert canonical_json(decoded) == canonical_json(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_es_number_round_trips_to_the_same_double(value: float) -> None:
    assert float(es_number(value)) == value or (value == 0 and es_number(value) == "0")


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_es_number_matches_native_on_any_bit_pattern(bits: int) -> None:
    value = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if math.isfinite(value):
        assert canonical_json(value).decode() == es_number(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (5e-324, "5e-324"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0, "1"),
        (123.456, "123.456"),
    ],
)
def test_numbers_follow_ecmascript(value: float, text: str) -> None:
    assert canonical_json(value).decode() == text == es_number(value)


def test_rfc8785_member_order_by_utf16() -> None:
    doc = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\x80": 6, "\xf6": 7}
    assert list(json.loads(canonical_json(doc))) == [
        "\r",
        "1",
        "\x80",
        "\xf6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]


def test_strings_escape_only_what_json_stringify_escapes() -> None:
    assert (
        canonical_json('"\\\b\f\n\r\t\x01\x1f\x7f\u2028é')
        == b'"\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x80\xa8\xc3\xa9"'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, b"x"]}, r"^value\.a\[1\]: bytes is not a JSON value$"),
        ({"a": float("nan")}, r"^value\.a: NaN and infinity are not JSON$"),
        ({"a": {"b": float("inf")}}, r"^value\.a\.b: NaN and infinity are not JSON$"),
        ({1: "x"}, r"^value: object key 1 is not a string$"),
        ({"a": 2**64}, r"^value\.a: integer outside the 64-bit range$"),
        ({"s": "\ud800"}, r"^value\.s: string is not valid Unicode \(lone surrogate\)$"),
        ({"x": {1, 2}}, r"^value\.x: set is not a JSON value$"),
    ],
)
def test_bad_values_are_refused_with_their_path(value: object, message: str) -> None:
    for encode in (canonical_json, reference_canonical_json):
        with pytest.raises(InvalidEventError, match=message):
            encode(value)
