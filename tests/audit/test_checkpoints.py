from __future__ import annotations

import base64
import hashlib

import pytest

from sentinel.audit.checkpoints import Checkpoint, CheckpointSigner, SignedCheckpoint, VerifierKey
from sentinel.errors import CheckpointError


def test_note_round_trip_and_format() -> None:
    signer = CheckpointSigner.generate("sentinel/test-log")
    signed = signer.sign(Checkpoint("sentinel/test-log", 42, bytes(range(32))))
    note = signed.to_note()
    lines = note.split("\n")
    assert lines[:4] == ["sentinel/test-log", "42", base64.b64encode(bytes(range(32))).decode(), ""]
    assert lines[4].startswith("\u2014 sentinel/test-log ")
    assert SignedCheckpoint.parse(note) == signed
    assert signer.verifier.verifies(signed)


def test_key_id_follows_the_signed_note_rule() -> None:
    signer = CheckpointSigner.generate("example.com/log")
    raw = signer.verifier.public_key
    expected = hashlib.sha256(b"example.com/log\n\x01" + raw).digest()[:4]
    assert signer.verifier.key_id == int.from_bytes(expected, "big")
    text = str(signer.verifier)
    assert text.startswith(f"example.com/log+{expected.hex()}+")
    assert VerifierKey.parse(text) == signer.verifier


def test_other_keys_and_altered_notes_do_not_verify() -> None:
    signer, other = CheckpointSigner.generate("log"), CheckpointSigner.generate("log")
    signed = signer.sign(Checkpoint("log", 1, bytes(32)))
    assert not other.verifier.verifies(signed)
    altered = SignedCheckpoint(Checkpoint("log", 2, bytes(32)), signed.signatures)
    assert not signer.verifier.verifies(altered)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("log\n12\n", "no blank line"),
        ("log\ntwelve\nAAAA\n\n\u2014 log AAAAAAAA\n", "line 2: tree size 'twelve'"),
        ("log\n12\n!!!\n\n\u2014 log AAAAAAAA\n", "line 3: root is not base64"),
        ("log\n12\nAAAA\n\n\u2014 log AAAAAAAA\n", "line 3: root is 3 bytes"),
        (
            f"log\n12\n{base64.b64encode(bytes(32)).decode()}\n\n- log AAAAAAAA\n",
            "line 5: signature lines start",
        ),
    ],
)
def test_malformed_notes_name_the_line(note: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        SignedCheckpoint.parse(note)


def test_malformed_verifier_keys() -> None:
    good = str(CheckpointSigner.generate("log").verifier)
    name, _, key = good.split("+", 2)  # base64 may contain "+" itself
    with pytest.raises(CheckpointError, match="does not match"):
        VerifierKey.parse(f"{name}+00000000+{key}")
    with pytest.raises(CheckpointError, match="name\\+hexid\\+base64"):
        VerifierKey.parse("garbage")
