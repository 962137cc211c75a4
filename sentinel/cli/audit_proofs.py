"""``sentinel-run audit prove`` and ``verify-proof``: the commands, and a parser without Typer.

With the store's subtrees a proof on a million-event store takes milliseconds; what is left
is the CLI's start, which Typer, Rich and the event models (pydantic) would more than
double. So the entry point hands these two commands to :func:`fast_main` first (as it does
``sandbox exec``). :func:`parse` accepts exactly the forms it is sure of and answers None
for anything else (``--help``, ``--opt=value``, a repeated or unknown option, a missing
argument), which then goes through Typer as before: both paths run :func:`prove_command`
or :func:`verify_proof_command`, and a test pins them to the same parse.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.errors import CheckpointError, SentinelError, StoreCorruptError

USER_ERROR_EXIT: Final = 2
"""Exit status when Sentinel refuses the input (as :mod:`sentinel.cli.output` says)."""
PROOF_FAILED_EXIT: Final = 1
"""Exit status of ``verify-proof`` when the proof does not hold."""


@dataclass(frozen=True)
class ProveRequest:
    """The arguments of ``audit prove``, as Typer would pass them."""

    event_id: str
    store: Path | None = None
    out: Path | None = None


@dataclass(frozen=True)
class VerifyProofRequest:
    """The arguments of ``audit verify-proof``, as Typer would pass them."""

    proof_file: Path
    keys: list[str] = field(default_factory=list)
    as_json: bool = False


def existing_store(store: Path | None) -> Path:
    """The store a command reads: ``store``, else the default; it must exist.

    Raises:
        StoreCorruptError: There is no file there.
    """
    path = store if store is not None else default_store()
    if not path.is_file():
        raise StoreCorruptError(f"{path}: no such audit store (pass --store or set {STORE_ENV})")
    return path


def _words(
    argv: list[str], values: tuple[str, ...], flags: tuple[str, ...]
) -> tuple[list[str], dict[str, list[str]], set[str]] | None:
    """Positional words, option values and flags; None for anything else."""
    positional: list[str] = []
    given: dict[str, list[str]] = {}
    seen: set[str] = set()
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in values:
            if index + 1 >= len(argv):
                return None
            given.setdefault(word, []).append(argv[index + 1])
            index += 2
            continue
        if word in flags and word not in seen:
            seen.add(word)
        elif word.startswith("-"):
            return None
        else:
            positional.append(word)
        index += 1
    return positional, given, seen


def parse(argv: list[str]) -> ProveRequest | VerifyProofRequest | None:
    """The request in ``argv`` (the words after ``audit``), or None to let Typer parse."""
    if argv[:1] == ["prove"]:
        words = _words(argv[1:], ("--store", "--out"), ())
        if words is None:
            return None
        positional, given, _ = words
        if len(positional) != 1 or any(len(v) > 1 for v in given.values()):
            return None
        store, out = given.get("--store"), given.get("--out")
        return ProveRequest(
            positional[0],
            store=Path(store[0]) if store else None,
            out=Path(out[0]) if out else None,
        )
    if argv[:1] == ["verify-proof"]:
        words = _words(argv[1:], ("--key",), ("--json",))
        if words is None:
            return None
        positional, given, flags = words
        if len(positional) != 1 or not given.get("--key"):
            return None  # Typer explains a missing key
        return VerifyProofRequest(Path(positional[0]), given["--key"], "--json" in flags)
    return None


def prove_command(request: ProveRequest) -> int:
    """Print (or write) an inclusion proof; the exit status.

    Raises:
        SentinelError: No such store or event, or the store does not match its checkpoint.
    """
    from sentinel.audit.proofs import prove_in_file  # noqa: PLC0415 - after the parse

    proof = prove_in_file(existing_store(request.store), request.event_id)
    if request.out is None:
        print(proof.to_json())
    else:
        request.out.write_text(proof.to_json())
        print(
            f"proof of position {proof.position} in a tree of {proof.tree_size} written to "
            f"{request.out}"
        )
    return 0


def verify_proof_command(request: VerifyProofRequest) -> int:
    """Check a proof offline against trusted keys; the exit status (1 when it fails).

    Raises:
        SentinelError: The proof or a key cannot be read.
    """
    from sentinel.audit.proofs import (  # noqa: PLC0415 - after the parse
        InclusionProof,
        check_inclusion_proof,
        load_keys,
    )

    try:
        text = request.proof_file.read_text()
    except OSError as exc:
        raise CheckpointError(f"{request.proof_file}: cannot read: {exc.strerror}") from None
    proof = InclusionProof.from_json(text, source=str(request.proof_file))
    result = check_inclusion_proof(proof, load_keys(request.keys))
    if request.as_json:
        data = {"ok": result.ok, "reasons": result.reasons, "position": proof.position,
                "tree_size": proof.tree_size, "origin": proof.origin}  # fmt: skip
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif result.ok:
        print(f"valid: event {proof.position} is in {proof.origin} (tree of {proof.tree_size})")
    else:
        for reason in result.reasons:
            print(f"invalid: {reason}")
    return 0 if result.ok else PROOF_FAILED_EXIT


def run(request: ProveRequest | VerifyProofRequest) -> int:
    """Run a parsed request; a :class:`SentinelError` is one line (JSON under ``--json``), 2."""
    try:
        if isinstance(request, ProveRequest):
            return prove_command(request)
        return verify_proof_command(request)
    except SentinelError as exc:
        if isinstance(request, VerifyProofRequest) and request.as_json:
            error = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
            print(json.dumps(error, indent=2, ensure_ascii=False))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT


def fast_main(argv: list[str]) -> int | None:
    """Run ``audit prove``/``verify-proof`` without Typer; None when :func:`parse` declines."""
    request = parse(argv)
    return None if request is None else run(request)
