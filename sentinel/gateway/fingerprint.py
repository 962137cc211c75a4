"""Agent fingerprints and the synthesis matcher: native entry point and Python reference.

A fingerprint is what the agent runtime knows about an agent's state, in buckets, sent with
each request: ``|``-separated ``KEY:VALUE`` fields (SEED_NOTES, Gateway), all required:

=======  =======================================  =====================
key      meaning                                  values
=======  =======================================  =====================
H E B    hunger, energy, bladder                  bucket 0-9
S C SN   stress, caffeine, social need            bucket 0-9
P        others present in the room               0-999
CH HR    chaos event, heard speech                0 or 1
T        hour of the day                          0-23
TMP N    too warm (> 26 C), too loud (ours)       0 or 1
IM       operator impulse                         0 or 1
R        room id                                  ``[a-z0-9_-]{1,64}``
PE       introvert or extrovert                   ``I`` or ``E``
=======  =======================================  =====================

A condition is ``FIELD OP VALUE`` with ``>= <= == != < >`` for numbers, ``== !=`` for text
and ``~`` (a regular-expression search) for text. :class:`Matcher` compiles a gate and a
list of rules into the native matcher once; :func:`reference_decide` is the same rule set
in Python, the oracle of the property tests and the benchmark baseline.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from sentinel import _native

NUMBER_FIELDS: Final = ("H", "E", "B", "S", "C", "SN", "P", "CH", "HR", "T", "TMP", "N", "IM")
TEXT_FIELDS: Final = ("R", "PE")
FIELDS: Final = NUMBER_FIELDS + TEXT_FIELDS
MAX_VALUE: Final = dict(zip(NUMBER_FIELDS, (9, 9, 9, 9, 9, 9, 999, 1, 1, 23, 1, 1, 1), strict=True))
"""Inclusive upper bound of each number field (all start at 0)."""
MAX_TEXT: Final = 64
_ROOM: Final = re.compile(r"[a-z0-9_-]{1,64}")
_DIGITS: Final = re.compile(r"[0-9]{1,3}")

DECISION_MALFORMED: Final = -3
"""The fingerprint does not parse (SEED_NOTES: parse error -> forward)."""
DECISION_GATED: Final = -2
"""The gate is closed: speech heard, chaos, impulse..."""
DECISION_NO_RULE: Final = -1
"""The gate is open and no rule matched."""

Fingerprint = dict[str, int | str]

_OPERATORS: Final[tuple[tuple[str, Callable[[Any, Any], bool] | None], ...]] = (
    (">=", operator.ge),
    ("<=", operator.le),
    ("==", operator.eq),
    ("!=", operator.ne),
    ("~", None),
    (">", operator.gt),
    ("<", operator.lt),
)


def parse_fingerprint(text: str) -> Fingerprint | None:
    """Parse a fingerprint; None if a field is unknown, repeated, missing or out of range."""
    fields: Fingerprint = {}
    for part in text.split("|"):
        key, sep, value = part.partition(":")
        if not sep or (key not in MAX_VALUE and key not in TEXT_FIELDS) or key in fields:
            return None
        if key in MAX_VALUE:
            if _DIGITS.fullmatch(value) is None or int(value) > MAX_VALUE[key]:
                return None
            fields[key] = int(value)
        elif (key == "PE" and value not in ("I", "E")) or (
            key == "R" and _ROOM.fullmatch(value) is None
        ):
            return None
        else:
            fields[key] = value
    return fields if len(fields) == len(FIELDS) else None


def format_fingerprint(fields: Mapping[str, int | str]) -> str:
    """The canonical text of a fingerprint (fields in :data:`FIELDS` order)."""
    return "|".join(f"{key}:{fields[key]}" for key in FIELDS)


Condition = Callable[[Fingerprint], bool]


def compile_condition(text: str) -> tuple[str, Condition]:
    """Compile one condition; returns the field it reads and a predicate.

    Raises:
        ValueError: The condition has no operator, an unknown field, or a bad value.
    """
    found = [(text.find(symbol), -len(symbol), symbol, op) for symbol, op in _OPERATORS]
    hits = [hit for hit in found if hit[0] >= 0]
    if not hits:
        raise ValueError(f"condition {text!r}: no operator (>=, <=, ==, !=, <, >, ~)")
    at, _, symbol, op = min(hits, key=lambda hit: (hit[0], hit[1]))
    key, value = text[:at].strip(), text[at + len(symbol) :].strip()
    if key not in FIELDS:
        raise ValueError(f"condition {text!r}: unknown field {key!r}")
    if op is None:
        if key in MAX_VALUE:
            raise ValueError(f"condition {text!r}: ~ applies to text fields")
        pattern = re.compile(value)
        return key, lambda fp: pattern.search(str(fp[key])) is not None
    if key in MAX_VALUE:
        number = int(value)
        return key, lambda fp: op(fp[key], number)
    if symbol not in ("==", "!="):
        raise ValueError(f"condition {text!r}: text fields take ==, != or ~")
    return key, lambda fp: op(fp[key], value)


class ReferenceMatcher:
    """The Python reference of :class:`Matcher`: same decisions, one fingerprint at a time."""

    def __init__(self, gate: Sequence[str], rules: Sequence[Sequence[str]]) -> None:
        self.gate = [compile_condition(c)[1] for c in gate]
        self.rules = [[compile_condition(c)[1] for c in rule] for rule in rules]

    def decide(self, fingerprint: str) -> int:
        """The index of the first matching rule, or a negative ``DECISION_*`` code."""
        fp = parse_fingerprint(fingerprint)
        if fp is None:
            return DECISION_MALFORMED
        if not all(condition(fp) for condition in self.gate):
            return DECISION_GATED
        for index, conditions in enumerate(self.rules):
            if all(condition(fp) for condition in conditions):
                return index
        return DECISION_NO_RULE

    def decide_many(self, fingerprints: Sequence[str]) -> list[int]:
        """:meth:`decide` for each fingerprint."""
        return [self.decide(fingerprint) for fingerprint in fingerprints]


def reference_decide(
    gate: Sequence[str], rules: Sequence[Sequence[str]], fingerprints: Sequence[str]
) -> list[int]:
    """Decide ``fingerprints`` with the Python reference (compiling the rules first)."""
    return ReferenceMatcher(gate, rules).decide_many(fingerprints)


class Matcher:
    """The native matcher: compile the gate and rules once, decide batches.

    Args:
        gate: Conditions that must all hold before any rule is tried.
        rules: Each rule's conditions, in order; the first rule whose conditions all hold
            wins.

    Raises:
        InvalidInputError: A condition does not compile; the message names rule and text.
    """

    def __init__(self, gate: Sequence[str], rules: Sequence[Sequence[str]]) -> None:
        self._native = _native.SynthesisMatcher(list(gate), [list(rule) for rule in rules])
        self.fields_read = [
            sorted({compile_condition(c)[0] for c in (*gate, *rule)}) for rule in rules
        ]
        """Per rule: the fingerprint fields its gate and conditions read (its provenance)."""

    def __len__(self) -> int:
        return len(self._native)

    def decide(self, fingerprint: str) -> int:
        """The index of the first matching rule, or a negative ``DECISION_*`` code."""
        return self._native.decide(fingerprint)

    def decide_many(self, fingerprints: Sequence[str]) -> list[int]:
        """Decide a batch in one native call (the GIL is released for long batches)."""
        return self._native.decide_many(list(fingerprints))
