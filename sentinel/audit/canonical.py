"""Canonical JSON: the exact bytes audit hashes are computed over.

RFC 8785 (JCS) with one stated difference: integers are written exactly in decimal (any
value in the 64-bit range), where JCS would round them through an IEEE double first. The
native encoder (``sentinel._native.canonical_json``) and the reference here are pinned
equal by property tests; ``docs/audit-format.md`` states the rules for other languages.
"""

from __future__ import annotations

import json
import math
from typing import Final

from sentinel import _native
from sentinel.errors import InvalidEventError

JsonValue = (
    None
    | bool
    | int
    | float
    | str
    | list["JsonValue"]
    | tuple["JsonValue", ...]
    | dict[str, "JsonValue"]
)
"""What canonical JSON can hold."""

_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1
MAX_PAYLOAD_DEPTH: Final = 64
"""Arrays and objects nest at most this deep in a payload (docs/audit-format.md section 1);
deeper documents break JSON readers (Python's stops near 1000, serde_json's at 128)."""
_ES_FIXED_MAX_EXPONENT: Final = 21
"""ECMAScript writes numbers below 1e21 without an exponent."""
_ES_FIXED_MIN_EXPONENT: Final = -6
"""... and numbers from 1e-6 upward."""


def canonical_json(value: object, *, path: str = "value") -> bytes:
    """Encode ``value`` canonically, natively; ``path`` names it in error messages.

    Raises:
        InvalidEventError: The value (or something inside it, named by path) has no JSON form.
    """
    return _native.canonical_json(value, path)


def es_number(value: float) -> str:
    """Write a finite float as ECMAScript's ``Number.prototype.toString`` does."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp_text = f"{abs(value)!r}".partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # repr's point sits after `whole`; n is where ECMAScript's point sits relative to digits.
    leading_zeros = len(whole + fraction) - len((whole + fraction).lstrip("0"))
    n = len(whole) - leading_zeros + (int(exp_text) if exp_text else 0)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= _ES_FIXED_MAX_EXPONENT:
        text = digits + "0" * (n - k)
    elif 0 < n <= _ES_FIXED_MAX_EXPONENT:
        text = digits[:n] + "." + digits[n:]
    elif _ES_FIXED_MIN_EXPONENT < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        exponent = n - 1
        text = (
            digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if exponent >= 0 else "-")
        )
        text += str(abs(exponent))
    return sign + text


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: object, path: str, out: list[str], levels: int | None) -> None:  # noqa: PLR0912 - one branch per JSON type
    if isinstance(value, dict | list | tuple):
        if levels == 0:
            raise InvalidEventError(
                f"{path}: arrays and objects nest deeper than {MAX_PAYLOAD_DEPTH} levels "
                "in a payload"
            )
        levels = None if levels is None else levels - 1
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _UINT_MAX:
            raise InvalidEventError(f"{path}: integer outside the 64-bit range")
        out.append(str(int(value)))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError(f"{path}: NaN and infinity are not JSON")
        out.append(es_number(value))
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEventError(
                f"{path}: string is not valid Unicode (lone surrogate)"
            ) from None
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise InvalidEventError(f"{path}: object key {key} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            _encode(key, path, out, levels)
            out.append(":")
            _encode(value[key], f"{path}.{key}", out, levels)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, f"{path}[{i}]", out, levels)
        out.append("]")
    else:
        raise InvalidEventError(f"{path}: {type(value).__name__} is not a JSON value")


def reference_canonical_json(
    value: object, *, path: str = "value", max_depth: int | None = MAX_PAYLOAD_DEPTH
) -> bytes:
    """The same encoding written in Python: the oracle of the property tests.

    ``max_depth`` bounds how deep arrays and objects nest (None: unbounded, for verifiers
    re-encoding stored documents of any depth).
    """
    out: list[str] = []
    _encode(value, path, out, max_depth)
    return "".join(out).encode("utf-8")
