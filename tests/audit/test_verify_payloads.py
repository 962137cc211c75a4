"""Both verify engines agree on any payload, written canonically or altered by a splice.

The native engine decides canonical, well-formed documents in a single pass and hands every
other one to the full parse-and-re-encode check; this pins the whole path (scanner and
fallback) to the Python reference on payloads of every JSON shape, including spliced bytes
(whitespace, non-canonical escapes and numbers) that only the fallback may judge.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.audit import AuditStore
from tests.audit.conftest import fill
from tests.audit.test_format_rules import _append_forged, _both_engines, _canonical

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
_SPLICES = st.sampled_from(["", "", " ", "\\u0041", "\\n", "\\u000a", "1.0", "-0", ",", "é", "\\/"])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("payloads") / "pristine.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        fill(store, 4)
    return path


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(st.text(max_size=4), _VALUES, max_size=4),
    cut=st.integers(0, 4_000),
    splice=_SPLICES,
)
def test_engines_agree_on_any_payload(
    pristine: Path, tmp_path: Path, payload: dict[str, Any], cut: int, splice: str
) -> None:
    path = tmp_path / f"case-{abs(hash((repr(payload), cut, splice)))}.db"
    shutil.copy(pristine, path)

    def forge(doc: dict[str, Any]) -> bytes:
        raw = _canonical({**doc, "payload": payload})
        at = min(cut, len(raw))
        return raw[:at] + splice.encode() + raw[at:]

    _append_forged(path, forge)
    report = _both_engines(path)
    if not splice:
        assert report.ok, report.problems
