"""docs/audit-format.md is exact: its vectors recompute, and a verifier written from the page
alone (below; it imports nothing of Sentinel's) accepts real logs and rejects altered ones."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sentinel.audit import AuditStore
from sentinel.audit.chain import GENESIS, seal_events
from tests.audit.conftest import Attacker, fill
from tests.audit.format_vectors import EVENTS, compute

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-format.md"


def test_every_vector_is_printed_in_the_document() -> None:
    text = DOC.read_text()
    vectors = compute()
    for canonical in vectors["canonical"]:  # type: ignore[attr-defined]
        assert f"```\n{canonical}\n```" in text
    for value in [
        *vectors["hashes"],
        *vectors["leaf_hashes"],
        vectors["root"],
        vectors["verifier_key"],
    ]:  # type: ignore[misc]
        assert str(value) in text
    assert f"```\n{str(vectors['note']).rstrip()}\n```" in text


def test_native_sealing_reproduces_the_vectors() -> None:
    sealed = seal_events(GENESIS, EVENTS)
    vectors = compute()
    assert [c.decode() for c, _ in sealed] == vectors["canonical"]
    assert [h.hex() for _, h in sealed] == vectors["hashes"]


# ---- an independent verifier, written from docs/audit-format.md -------------------------


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _check_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    name, key_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1
    assert hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4].hex() == key_hex
    body, _, signatures = note.partition("\n\n")
    origin, size, root = body.split("\n")
    message = (body + "\n").encode()
    for line in signatures.strip("\n").split("\n"):
        signer, blob = line.removeprefix("\u2014 ").rsplit(" ", 1)
        data = base64.b64decode(blob)
        if signer == name and data[:4].hex() == key_hex:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(
                data[4:], message
            )  # raises if forged
            return origin, int(size), base64.b64decode(root)
    raise InvalidSignature("no signature by the trusted key")


def independent_verify(path: Path, vkey: str) -> str | None:
    """Return None if the log verifies, else a description of the first problem."""
    conn = sqlite3.connect(path)
    prev, leaves = bytes(32), list[bytes]()
    for position, stored_prev, digest, canonical in conn.execute(
        "SELECT position, prev_hash, hash, canonical FROM events ORDER BY position"
    ):
        if position != len(leaves):
            return f"gap at {len(leaves)}"
        doc = json.loads(canonical)
        if stored_prev != prev or doc["prev_hash"] != prev.hex() or doc["position"] != position:
            return f"broken link at {position}"
        if hashlib.sha256(prev + canonical).digest() != digest:
            return f"hash mismatch at {position}"
        prev = digest
        leaves.append(hashlib.sha256(b"\x00" + digest).digest())
    origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()[0]
    for (note,) in conn.execute("SELECT note FROM checkpoints ORDER BY size"):
        try:
            signed_origin, size, root = _check_note(note, vkey)
        except InvalidSignature:
            return "bad checkpoint signature"
        if signed_origin != origin or size > len(leaves) or _mth(leaves[:size]) != root:
            return f"checkpoint {size} does not match the log"
    conn.close()
    return None


def test_the_documented_vectors_pass_the_independent_checks() -> None:
    vectors = compute()
    prev = bytes(32)
    for canonical, digest in zip(vectors["canonical"], vectors["hashes"], strict=True):  # type: ignore[call-overload]
        prev = hashlib.sha256(prev + canonical.encode()).digest()
        assert prev.hex() == digest
    assert (
        _check_note(str(vectors["note"]), str(vectors["verifier_key"]))[2].hex() == vectors["root"]
    )


def test_independent_verifier_accepts_real_logs_and_rejects_altered_ones(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with AuditStore(path, checkpoint_every=7) as store:
        fill(store, 30)
        store.append(
            "agent/A", "note.free_form", {"text": "Grüße € \u2028", "x": 1e21, "y": [0.1, -0.0]}
        )
        vkey = str(store.verifier_key)
    assert independent_verify(path, vkey) is None
    attacker = Attacker(path)
    attacker.sql(
        "UPDATE events SET canonical = CAST(replace(CAST(canonical AS TEXT), 'step 4', 'step 9') AS BLOB)"
        " WHERE position = 4"
    )
    attacker.close()
    assert independent_verify(path, vkey) == "hash mismatch at 4"
