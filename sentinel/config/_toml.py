"""Writing TOML; reading it into pydantic models is :mod:`sentinel.toml_model`'s (re-exported).

The standard library reads TOML but does not write it. Gaia writes the company it
generates, so a small writer for the subset the config models use (strings, integers,
floats, booleans, arrays of scalars, tables, arrays of tables) lives here, next to the
reader whose errors it mirrors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sentinel.toml_model import load_model, read_toml, validate_model

__all__ = ["dump_toml", "load_model", "read_toml", "validate_model"]


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        return "[\n" + "".join(f"    {_scalar(item)},\n" for item in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_table(item) for item in value)


def _emit(data: Mapping[str, object], prefix: str, lines: list[str]) -> None:
    for key, value in data.items():
        if value is None or _is_table(value) or _is_table_array(value):
            continue
        lines.append(f"{key} = {_scalar(value)}")
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            lines.append("")
            lines.append(f"[{name}]")
            _emit(value, name, lines)
        elif _is_table_array(value):
            assert isinstance(value, list)  # noqa: S101 - narrowed by _is_table_array
            for item in value:
                lines.append("")
                lines.append(f"[[{name}]]")
                _emit(item, name, lines)


def dump_toml(data: Mapping[str, object], header: str = "") -> str:
    """Render ``data`` as TOML (``None`` values are left out, as TOML has no null)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _emit(data, "", lines)
    text = "\n".join(lines).strip("\n") + "\n"
    return text.replace("\n\n\n", "\n\n")
