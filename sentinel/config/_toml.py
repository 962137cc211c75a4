"""Reading TOML into pydantic models with errors that name file and field; writing TOML.

The standard library reads TOML but does not write it. Gaia writes the company it
generates, so a small writer for the subset the config models use (strings, integers,
floats, booleans, arrays of scalars, tables, arrays of tables) lives here, next to the
reader whose errors it mirrors.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from sentinel.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path) -> dict[str, object]:
    """Parse a TOML file.

    Raises:
        ConfigError: The file is missing or is not valid TOML (names the file).
    """
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("file not found", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None


def validate_model(model: type[M], data: object, path: Path) -> M:
    """Validate ``data`` read from ``path`` as ``model``.

    Raises:
        ConfigError: Naming the file, the dotted field and the reason of the first error.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(message, path=path, field=field) from None


def load_model(model: type[M], path: Path) -> M:
    """Read ``path`` and validate it as ``model`` (see :func:`validate_model`)."""
    return validate_model(model, read_toml(path), path)


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
