"""Reading a TOML file into a pydantic model, with errors that name the file and field.

One reader for every TOML file Sentinel loads (company configuration, sandbox policies,
gateway settings): whatever goes wrong, the caller gets its own
:class:`~sentinel.errors.ConfigError` subclass naming the file and, for an invalid
value, the dotted field of pydantic's first error, never a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from sentinel.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_toml(
    path: Path,
    *,
    what: str | None = None,
    error: type[ConfigError] = ConfigError,
    content: bytes | None = None,
) -> dict[str, object]:
    """Parse the TOML file ``path`` (or ``content``, already read from it).

    Args:
        path: The file (named in every error).
        what: What the file holds, for messages (``"the policy"``).
        error: The exception raised (a :class:`ConfigError` subclass).
        content: The file's bytes when the caller has read them (and hashed them).

    Raises:
        ConfigError: (``error``) The file is missing, unreadable, not UTF-8 or not TOML.
    """
    prefix = f"cannot read {what}: " if what else ""
    try:
        if content is None:
            content = path.read_bytes()
        return tomllib.loads(content.decode("utf-8"))
    except FileNotFoundError:
        raise error(f"{prefix}file not found", path=path) from None
    except OSError as exc:
        raise error(f"cannot read {what or 'the file'}: {exc.strerror}", path=path) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 (byte {exc.start})", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}", path=path) from None


def validate_model(
    model: type[M], data: object, path: Path, *, error: type[ConfigError] = ConfigError
) -> M:
    """Validate ``data`` read from ``path`` as ``model``.

    Raises:
        ConfigError: (``error``) Naming the file, the dotted field and the reason of the
            first error.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise error(message, path=path, field=field) from None


def load_model(
    model: type[M],
    path: Path,
    *,
    what: str | None = None,
    error: type[ConfigError] = ConfigError,
    content: bytes | None = None,
) -> M:
    """Read ``path`` and validate it as ``model`` (:func:`read_toml`, :func:`validate_model`)."""
    data = read_toml(path, what=what, error=error, content=content)
    return validate_model(model, data, path, error=error)
