"""A rule's action entries of a decision record, with their text for the record's digest.

A storm iteration records ~115 actions: made in a Python loop and then walked again by the
digest's encoder (each dict's keys sorted, each value typed and written), they were about a
tenth of the iteration. :func:`action_entries` makes them natively and writes their JSON
text in the same pass; :func:`reference_action_entries` is its reference (a hypothesis test,
tests/control/test_action_entries.py, pins the two).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sentinel import _native
from sentinel.control.actuator import Outcome
from sentinel.control.record_json import reference_record_json

Entries = tuple[list[dict[str, Any]], bytes | None]
"""The entries, and their JSON text joined by commas (no brackets; None: not written)."""


def reference_action_entries(
    rule: str,
    action: str,
    params: Mapping[str, Any],
    targets: list[str],
    keys: list[str],
    outcomes: list[Outcome],
) -> Entries:
    """One entry per command (``params`` the one dict all share), and their JSON text.

    The text is each entry as the record's digest writes it (keys sorted, compact), joined
    by commas; None when the standard library cannot write an entry (the digest then walks
    the entries, and raises what it raises).

    Raises:
        ValueError: ``targets``, ``keys`` and ``outcomes`` differ in length.
    """
    if not len(targets) == len(keys) == len(outcomes):
        raise ValueError(
            f"action_entries: {len(targets)} targets, {len(keys)} keys, {len(outcomes)} outcomes"
        )
    entries = [
        {"rule": rule, "target": target, "action": action, "key": key, "params": params,
         "status": outcome.status, "detail": outcome.detail}
        for target, key, outcome in zip(targets, keys, outcomes, strict=True)
    ]  # fmt: skip
    try:
        text = b",".join(reference_record_json(entry) for entry in entries)
    except (TypeError, ValueError):
        return entries, None
    return entries, text


action_entries: Callable[
    [str, str, dict[str, Any], list[str], list[str], list[Outcome]], Entries
] = _native.action_entries
""":func:`reference_action_entries`, natively; the text is None also for what the native
encoder leaves to the standard library (a subclass, an integer past 64 bits)."""
