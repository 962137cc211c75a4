"""Canonical bytes agree with an independent RFC 8785 implementation (the rfc8785 package).

Within JCS's domain (integers of at most 53 bits, finite doubles) Sentinel's encoding is
RFC 8785 exactly; docs/audit-format.md states the one difference (wider integers are
written exactly, where JCS would round them through a double).
"""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from sentinel.audit.canonical import canonical_json, reference_canonical_json

JCS_INT = 2**53 - 1
"""rfc8785 refuses integers outside the IEEE double's exact range (I-JSON, RFC 7493)."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-JCS_INT, max_value=JCS_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


@given(documents)
def test_canonical_bytes_equal_rfc8785(value: object) -> None:
    expected = rfc8785.dumps(value)  # type: ignore[arg-type]  # any JSON value the strategy builds
    assert canonical_json(value) == expected
    assert reference_canonical_json(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_equal_rfc8785(value: float) -> None:
    assert canonical_json([value]) == rfc8785.dumps([value])
