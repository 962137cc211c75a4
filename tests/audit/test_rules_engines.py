"""The native scan and the Python reference apply the format's rules identically.

Random documents (members changed, removed or added; bytes re-spaced) are appended at the
tail as a forger would, chained; both engines must report the very same findings.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.audit import AuditStore, verify_store
from sentinel.audit.chain import link_hash
from sentinel.audit.document_rules import MEMBERS
from tests.audit.conftest import Attacker, fill

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
changes = st.lists(
    st.tuples(st.sampled_from([*MEMBERS, "extra"]), st.none() | json_values, st.booleans()),
    max_size=3,
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("rules") / "pristine.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        fill(store, 6)
    yield path


def _forge(doc: dict[str, Any], edits: list[tuple[str, object, bool]], spaced: bool) -> bytes:
    for name, value, remove in edits:
        if remove:
            doc.pop(name, None)
        else:
            doc[name] = value
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(doc, sort_keys=True, separators=separators, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes, st.booleans())
def test_engines_agree_on_any_forged_document(
    pristine: Path, tmp_path: Path, edits: list[tuple[str, object, bool]], spaced: bool
) -> None:
    path = tmp_path / f"case-{abs(hash(repr((edits, spaced))))}.db"
    shutil.copy(pristine, path)
    attacker = Attacker(path)
    try:
        canonical, digest, stream, rev, lamport = attacker.conn.execute(
            "SELECT canonical, hash, stream, stream_rev, lamport FROM events"
            " ORDER BY position DESC LIMIT 1"
        ).fetchone()
        doc = json.loads(canonical)
        doc.update(position=6, prev_hash=digest.hex(), event_id=doc["event_id"][:-1] + "f")
        forged = _forge(doc, edits, spaced)
        attacker.sql(
            "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport,"
            " prev_hash, hash, canonical) VALUES (6, 'forged', ?, ?, 'test.step', ?, ?, ?, ?)",
            stream, rev + 1, lamport + 1, digest, link_hash(digest, forged), forged,
        )  # fmt: skip
    finally:
        attacker.close()
    native = verify_store(path, engine="native", witness=False)
    reference = verify_store(path, engine="reference", witness=False)
    assert native.problems == reference.problems
