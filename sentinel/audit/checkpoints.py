r"""Signed checkpoints: tree heads in the C2SP ``tlog-checkpoint`` / ``signed-note`` format.

A checkpoint commits to the first ``size`` events of a log by their Merkle root::

    sentinel/0b6c...            <- origin: the log's identity
    1024                        <- tree size
    q1w2e3...=                  <- base64 Merkle root
                                <- blank line ends the signed text
    — sentinel/0b6c... AbCd...= <- em dash, key name, base64(key id || Ed25519 signature)

The key id is the first four bytes of ``SHA-256(name || "\\n" || 0x01 || public key)``,
and a verifier key is written ``name+<8 hex key id>+base64(0x01 || public key)``, as
in the Go ``note`` package, so auditors can check Sentinel checkpoints with existing tools.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sentinel.errors import CheckpointError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# cryptography is imported where keys are used (tens of ms): `audit prove` parses notes
# and never signs or checks one.

ED25519_ALGORITHM: Final = 0x01
"""Signature algorithm byte of Ed25519 in signed notes."""
SIGNATURE_PREFIX: Final = "\u2014 "
"""Signature lines start with an em dash and a space."""
KEY_FILE_MODE: Final = 0o600


def _key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(
        name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log ``origin`` had ``size`` events with Merkle ``root``."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The signed text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its signatures, as stored and exchanged."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def to_note(self) -> str:
        """The note text: body, a blank line, one line per signature."""
        lines = [
            f"{SIGNATURE_PREFIX}{sig.name} "
            + base64.b64encode(sig.key_id.to_bytes(4, "big") + sig.signature).decode()
            for sig in self.signatures
        ]
        return self.checkpoint.body() + "\n" + "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, note: str, *, source: str = "checkpoint") -> SignedCheckpoint:
        """Parse a note; ``source`` names it in errors.

        Raises:
            CheckpointError: The text is not a signed checkpoint; the message gives the line.
        """
        body, sep, signature_block = note.partition("\n\n")
        if not sep:
            raise CheckpointError(
                f"{source}: no blank line between the checkpoint and its signatures"
            )
        lines = body.split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"{source}: a checkpoint needs origin, size and root lines")
        if len(lines) > 3:
            raise CheckpointError(
                f"{source}, line 4: extension lines are not part of a Sentinel checkpoint"
            )
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not size_text.isdigit():
            raise CheckpointError(
                f"{source}, line 2: tree size {size_text!r} is not a decimal number"
            )
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise CheckpointError(f"{source}, line 3: root is not base64") from None
        if len(root) != 32:
            raise CheckpointError(f"{source}, line 3: root is {len(root)} bytes, expected 32")
        signatures = []
        for offset, line in enumerate(signature_block.rstrip("\n").split("\n")):
            number = len(lines) + 2 + offset
            if not line.startswith(SIGNATURE_PREFIX):
                raise CheckpointError(
                    f"{source}, line {number}: signature lines start with an em dash"
                )
            name, _, blob_text = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
            try:
                blob = base64.b64decode(blob_text, validate=True)
            except binascii.Error:
                raise CheckpointError(f"{source}, line {number}: signature is not base64") from None
            if len(blob) < 5:
                raise CheckpointError(f"{source}, line {number}: signature too short")
            signatures.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
        if not signatures:
            raise CheckpointError(f"{source}: no signature")
        checkpoint = Checkpoint(origin=origin, size=int(size_text), root=root)
        return cls(checkpoint, tuple(signatures))


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checks checkpoint signatures: what an auditor needs."""

    name: str
    key_id: int
    public_key: bytes

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+hexid+base64key``.

        Raises:
            CheckpointError: Malformed, or the key id does not match the key.
        """
        name, _, rest = text.strip().partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            raw = base64.b64decode(encoded, validate=True)
            key_id = int(hex_id, 16)
        except (binascii.Error, ValueError):
            raise CheckpointError(
                f"verifier key {text.strip()!r} is not name+hexid+base64"
            ) from None
        if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise CheckpointError("verifier key is not an Ed25519 key")
        if _key_id(name, raw[1:]) != key_id:
            raise CheckpointError(f"verifier key id {hex_id} does not match its name and key")
        return cls(_check_name(name), key_id, raw[1:])

    def verifies(self, signed: SignedCheckpoint) -> bool:
        """Whether one of the note's signatures is this key's and is valid."""
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - see above
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        message = signed.checkpoint.body().encode()
        for sig in signed.signatures:
            if sig.name == self.name and sig.key_id == self.key_id:
                try:
                    public.verify(sig.signature, message)
                except InvalidSignature:
                    continue
                return True
        return False


class CheckpointSigner:
    """An Ed25519 signing key with its note name.

    Args:
        name: The key name written in notes (Sentinel uses the log's origin).
        private_key: The Ed25519 private key.
    """

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see above

        self.name = _check_name(name)
        self._private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = VerifierKey(name, _key_id(name, raw), raw)

    @classmethod
    def generate(cls, name: str) -> CheckpointSigner:
        """A new random key."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )

        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, name: str, path: Path) -> CheckpointSigner:
        """Load a PKCS#8 PEM key written by :meth:`save`.

        Raises:
            CheckpointError: The file is missing, unreadable or not an Ed25519 key.
        """
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see above
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )

        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: cannot load the checkpoint signing key: {exc}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path}: not an Ed25519 private key")
        return cls(name, key)

    def save(self, path: Path) -> None:
        """Write the private key as PKCS#8 PEM, readable by the owner only."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see above

        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole under a temporary name, then linked in: link(2) refuses an existing
        # name, and a reader never sees a half-written key (two processes creating the same
        # new store race here; the loser gets FileExistsError and loads the winner's key).
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        finally:
            temporary.unlink()

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        """Sign a checkpoint."""
        signature = self._private_key.sign(checkpoint.body().encode())
        return SignedCheckpoint(
            checkpoint, (NoteSignature(self.name, self.verifier.key_id, signature),)
        )
