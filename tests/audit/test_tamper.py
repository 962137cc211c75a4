"""Every way of altering the log is detected, at the exact position where that is knowable.

The attacker has write access to the database file (and drops the append-only triggers)
but not the signing key, except where a test gives them a key of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore, CheckpointSigner, VerifierKey, verify_store
from sentinel.audit.canonical import reference_canonical_json
from sentinel.audit.chain import link_hash
from sentinel.audit.checkpoints import Checkpoint, NoteSignature, SignedCheckpoint
from sentinel.audit.merkle import MerkleLog, reference_leaf_hash
from tests.audit.conftest import Attacker, fill

EVENTS = 40
CHECKPOINT_SIZES = (10, 20, 30, 40)


@pytest.fixture
def sealed_log(tmp_path: Path) -> Iterator[tuple[Path, VerifierKey]]:
    """40 events with signed checkpoints at 10, 20, 30 and 40; the store is closed."""
    path = tmp_path / "evidence.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        for _ in CHECKPOINT_SIZES:
            fill(store, 10)
            store.checkpoint()
        key = store.verifier_key
    assert [c.checkpoint.size for c in AuditStore(path).checkpoints()] == list(CHECKPOINT_SIZES)
    yield path, key


@pytest.fixture
def attacker(sealed_log: tuple[Path, VerifierKey]) -> Iterator[Attacker]:
    opened = Attacker(sealed_log[0])
    yield opened
    opened.close()


def _doc(attacker: Attacker, position: int) -> dict[str, object]:
    row = attacker.conn.execute(
        "SELECT canonical FROM events WHERE position = ?", (position,)
    ).fetchone()
    doc: dict[str, object] = json.loads(row[0])
    return doc


def _rechain_from(attacker: Attacker, start: int) -> None:
    """Recompute prev_hash and hash of every event from ``start`` on, as a forger would."""
    prev = attacker.conn.execute(
        "SELECT hash FROM events WHERE position = ?", (start - 1,)
    ).fetchone()[0]
    rows = attacker.conn.execute(
        "SELECT position, canonical FROM events WHERE position >= ? ORDER BY position", (start,)
    )
    for position, canonical in rows.fetchall():
        doc = json.loads(canonical)
        del doc["prev_hash"]
        doc["prev_hash"] = prev.hex()
        new_canonical = reference_canonical_json(doc)
        digest = link_hash(prev, new_canonical)
        attacker.sql("UPDATE events SET canonical = ?, prev_hash = ?, hash = ? WHERE position = ?",
                     new_canonical, prev, digest, position)  # fmt: skip
        prev = digest


def test_untouched_log_verifies(sealed_log: tuple[Path, VerifierKey]) -> None:
    path, key = sealed_log
    report = verify_store(path, trusted_keys=[key])
    assert report.ok, report.problems
    assert (report.size, report.checkpoints_checked, report.key_source) == (40, 4, "caller")


def test_payload_byte_flipped(sealed_log: tuple[Path, VerifierKey], attacker: Attacker) -> None:
    canonical = attacker.conn.execute(
        "SELECT canonical FROM events WHERE position = 17"
    ).fetchone()[0]
    flipped = canonical.replace(b'"note":"step ', b'"note":"stop ')
    assert flipped != canonical
    attacker.sql("UPDATE events SET canonical = ? WHERE position = 17", flipped)
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert [(p.position, p.kind) for p in report.problems] == [(17, "modified")]


def test_byte_flip_that_breaks_the_json(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    canonical = attacker.conn.execute("SELECT canonical FROM events WHERE position = 5").fetchone()[
        0
    ]
    attacker.sql("UPDATE events SET canonical = ? WHERE position = 5", b"}" + canonical[1:])
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert report.first_bad_position == 5
    assert [(p.position, p.kind) for p in report.problems] == [(5, "modified")]


def test_event_deleted(sealed_log: tuple[Path, VerifierKey], attacker: Attacker) -> None:
    attacker.sql("DELETE FROM events WHERE position = 17")
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert report.first_bad_position == 17
    # Position 17 was the 8th event of its batch: stream agent/A-1 (7 % 3), whose next event,
    # at 21 (the 2nd of the next batch), now lacks its predecessor revision.
    assert [(p.position, p.kind) for p in report.problems] == [
        (17, "missing"),
        (21, "revision_gap"),
    ]


def test_event_deleted_and_positions_closed_up(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    attacker.sql("DELETE FROM events WHERE position = 17")
    for position in range(18, EVENTS):
        attacker.sql("UPDATE events SET position = ? WHERE position = ?", position - 1, position)
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert report.first_bad_position == 17
    assert [(p.position, p.kind) for p in report.problems] == [
        (17, "missing"),
        (20, "revision_gap"),
    ]


def test_two_events_swapped(sealed_log: tuple[Path, VerifierKey], attacker: Attacker) -> None:
    attacker.sql("UPDATE events SET position = -1 WHERE position = 17")
    attacker.sql("UPDATE events SET position = 17 WHERE position = 18")
    attacker.sql("UPDATE events SET position = 18 WHERE position = -1")
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert [(p.position, p.kind) for p in report.problems] == [(17, "reordered")]


def test_event_inserted(sealed_log: tuple[Path, VerifierKey], attacker: Attacker) -> None:
    for position in range(EVENTS - 1, 16, -1):
        attacker.sql("UPDATE events SET position = ? WHERE position = ?", position + 1, position)
    prev = attacker.conn.execute("SELECT hash FROM events WHERE position = 16").fetchone()[0]
    forged_doc = {**_doc(attacker, 18), "event_id": "01a2239b-0000-7000-8000-000000000000",
                  "stream": "agent/intruder", "stream_rev": 0, "payload": {"note": "forged"}, "position": 17}  # fmt: skip
    del forged_doc["prev_hash"]
    forged_doc["prev_hash"] = prev.hex()
    canonical = reference_canonical_json(forged_doc)
    attacker.sql(
        "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport, correlation_id,"
        " idempotency_key, prev_hash, hash, canonical) VALUES (17, ?, 'agent/intruder', 0, ?, ?, NULL, NULL, ?, ?, ?)",
        forged_doc["event_id"], forged_doc["type"], forged_doc["lamport"], prev, link_hash(prev, canonical), canonical,
    )  # fmt: skip
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert [(p.position, p.kind) for p in report.problems] == [(17, "inserted")]


def test_tail_truncated_after_a_checkpoint(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    attacker.sql("DELETE FROM events WHERE position >= 35")
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    assert [(p.position, p.kind, p.checkpoint) for p in report.problems] == [(35, "truncated", 40)]


def test_tail_truncated_with_its_checkpoints_caught_by_an_external_checkpoint(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    path, key = sealed_log
    kept = SignedCheckpoint.parse(
        attacker.conn.execute("SELECT note FROM checkpoints WHERE size = 40").fetchone()[0]
    )
    attacker.sql("DELETE FROM events WHERE position >= 25")
    attacker.sql("DELETE FROM checkpoints WHERE size > 20")
    # The store alone cannot know...
    assert verify_store(path, trusted_keys=[key], witness=False).ok
    # ...an auditor's copy of a checkpoint can,
    report = verify_store(path, trusted_keys=[key], checkpoint=kept, witness=False)
    assert [(p.position, p.kind) for p in report.problems] == [(25, "truncated")]
    # and so can the witness, by default: it recorded every checkpoint the store signed.
    report = verify_store(path, trusted_keys=[key])
    assert [(p.position, p.kind, p.checkpoint) for p in report.problems] == [
        (25, "truncated", 40),
        (None, "checkpoints_missing", 40),
    ]


def test_forged_checkpoint_signature(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    note = attacker.conn.execute("SELECT note FROM checkpoints WHERE size = 20").fetchone()[0]
    signed = SignedCheckpoint.parse(note)
    forged = SignedCheckpoint(
        Checkpoint(signed.checkpoint.origin, 20, bytes(32)),
        (NoteSignature(signed.signatures[0].name, signed.signatures[0].key_id, bytes(64)),),
    )
    attacker.sql("UPDATE checkpoints SET note = ? WHERE size = 20", forged.to_note())
    for keys in ([sealed_log[1]], None):
        report = verify_store(sealed_log[0], trusted_keys=keys)
        # The root column still holds the true root: it disagrees with the forged note.
        assert [(p.kind, p.checkpoint) for p in report.problems] == [
            ("bad_signature", 20),
            ("column_mismatch", 20),
        ]


def test_chain_recomputed_without_the_key(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    doc = _doc(attacker, 17)
    doc["payload"] = {"i": 17, "note": "nothing happened here"}
    del doc["prev_hash"]
    attacker.sql("UPDATE events SET canonical = ? WHERE position = 17", reference_canonical_json(
        {**doc, "prev_hash": attacker.conn.execute("SELECT lower(hex(prev_hash)) FROM events WHERE position = 17").fetchone()[0]}))  # fmt: skip
    _rechain_from(attacker, 17)
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    # Every link holds; only the signed roots betray the rewrite. Checkpoints bound where it
    # happened: after the last checkpoint that still matches (10), before 20.
    assert {p.kind for p in report.problems} == {"rewritten"}
    assert report.first_bad_position == 10
    assert [p.checkpoint for p in report.problems] == [20, 30, 40]


def test_rewrite_resigned_with_the_attackers_own_key(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    path, key = sealed_log
    _rechain_from(attacker, 3)  # no content change needed to show the point: any rewrite
    doc = _doc(attacker, 3)
    doc["payload"] = {"i": 3, "note": "rewritten"}
    attacker.sql(
        "UPDATE events SET canonical = ? WHERE position = 3", reference_canonical_json(doc)
    )
    _rechain_from(attacker, 3)
    origin = SignedCheckpoint.parse(
        attacker.conn.execute("SELECT note FROM checkpoints LIMIT 1").fetchone()[0]
    ).checkpoint.origin
    forger = CheckpointSigner.generate(origin)
    hashes = [row[0] for row in attacker.conn.execute("SELECT hash FROM events ORDER BY position")]
    tree = MerkleLog()
    tree.append([reference_leaf_hash(h) for h in hashes])
    for size in CHECKPOINT_SIZES:
        note = forger.sign(Checkpoint(origin, size, tree.root(size))).to_note()
        attacker.sql(
            "UPDATE checkpoints SET note = ?, root = ? WHERE size = ?", note, tree.root(size), size
        )
    attacker.sql("DELETE FROM keys")
    attacker.sql(
        "INSERT INTO keys VALUES (?, ?, 0, 0)",
        f"{forger.verifier.key_id:08x}",
        str(forger.verifier),
    )
    # Trusting the keys inside the store, the forgery is consistent: this is the limit of TOFU...
    assert verify_store(path, witness=False).ok
    # ...which the witness removes: its checkpoint 40 is not in the store any more.
    witnessed = verify_store(path)
    assert [(p.kind, p.checkpoint) for p in witnessed.problems] == [("untrusted_key", 40)]
    # The auditor's own copy of the key exposes every forged checkpoint.
    report = verify_store(path, trusted_keys=[key])
    # ...and the witnessed checkpoint, which that key did sign, shows the rewrite itself.
    assert [(p.kind, p.checkpoint) for p in report.problems] == [
        ("rewritten", 40),
        *(("untrusted_key", s) for s in CHECKPOINT_SIZES),
    ]


def test_index_column_changed_without_touching_the_evidence(
    sealed_log: tuple[Path, VerifierKey], attacker: Attacker
) -> None:
    attacker.sql("UPDATE events SET stream = 'agent/someone-else' WHERE position = 12")
    report = verify_store(sealed_log[0], trusted_keys=[sealed_log[1]])
    kinds = [(p.position, p.kind) for p in report.problems]
    assert (12, "column_mismatch") in kinds
    assert report.first_bad_position == 12
