"""Frozen value classes without :mod:`dataclasses`, for the CLI's one-shot launch path.

``sentinel-run sandbox exec`` is a new Python process per command, so what its modules do
when they are imported is paid on every call. ``@dataclass`` writes the source of four to
six methods per class and compiles it when the class is created, and imports ``inspect``
(with ``ast``, ``dis`` and ``tokenize``): for the 17 classes on that path, 30-38 ms of a
95-124 ms start (CPU, interleaved runs on the shared 2-core machine). A
:class:`FrozenRecord` subclass gets the same behaviour from methods written once, here:
the fields are the class's annotations in order (a class attribute is a field's
default), the constructor takes them by position or name, instances are immutable,
compare equal and hash by their fields and class, and :func:`record_dict` is
``dataclasses.asdict``. ``typing.dataclass_transform`` tells type checkers all of this,
so constructor calls are checked as a dataclass's would be.
"""

from __future__ import annotations

from typing import Any, ClassVar, dataclass_transform

_MUTABLE_DEFAULTS = (list, dict, set, bytearray)


class FrozenRecordError(AttributeError):
    """An attempt to assign or delete a field of a :class:`FrozenRecord`.

    An ``AttributeError``, as ``dataclasses.FrozenInstanceError`` is.
    """


@dataclass_transform(frozen_default=True)
class FrozenRecord:
    """Base of immutable value classes whose fields are their annotations (see the module)."""

    __slots__ = ()
    _record_fields: ClassVar[tuple[str, ...]] = ()
    _record_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:  # noqa: ANN401 - as object's
        """Collect the fields: the base's, then this class's annotations in order.

        Raises:
            TypeError: A field without a default follows one with a default.
            ValueError: A default is mutable (list, dict, set, bytearray), as dataclasses say.
        """
        super().__init_subclass__(**kwargs)
        # Not inspect.get_annotations: importing inspect is the cost this module avoids.
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        own = [name for name, kind in annotations.items() if not str(kind).startswith("ClassVar")]
        fields = (*cls._record_fields, *(name for name in own if name not in cls._record_fields))
        defaults = dict(cls._record_defaults)
        for name in own:
            if name in cls.__dict__:
                value = cls.__dict__[name]
                if isinstance(value, _MUTABLE_DEFAULTS):
                    raise ValueError(f"{cls.__qualname__}.{name}: mutable default {value!r}")
                defaults[name] = value
        required_after_default = [
            name for index, name in enumerate(fields)
            if name not in defaults and any(f in defaults for f in fields[:index])
        ]  # fmt: skip
        if required_after_default:
            raise TypeError(
                f"{cls.__qualname__}: field {required_after_default[0]!r} without a default "
                "follows a field with one"
            )
        cls._record_fields = fields
        cls._record_defaults = defaults

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - typed by the transform
        """Set every field, by position then by name, defaults for the rest.

        Raises:
            TypeError: Too many positional arguments, an unknown or repeated name, or a
                field without a default left unset (as a dataclass's constructor says).
        """
        name = type(self).__qualname__
        fields = self._record_fields
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[key] = value
        for field in fields:
            if field in values:
                object.__setattr__(self, field, values[field])
            elif field in self._record_defaults:
                object.__setattr__(self, field, self._record_defaults[field])
            else:
                raise TypeError(f"{name}() missing required argument: {field!r}")

    def _record_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in self._record_fields)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse: the record is frozen."""
        raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen record")

    def __delattr__(self, name: str) -> None:
        """Refuse: the record is frozen."""
        raise FrozenRecordError(f"cannot delete field {name!r} of a frozen record")

    def __eq__(self, other: object) -> bool:
        """Same class and equal fields (what a dataclass's ``__eq__`` compares)."""
        if not isinstance(other, FrozenRecord) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._record_values() == other._record_values()

    def __hash__(self) -> int:
        """The fields' hash (a frozen dataclass's; unhashable fields make it fail)."""
        return hash(self._record_values())

    def __repr__(self) -> str:
        """``Name(field=value, ...)``, as a dataclass prints itself."""
        shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._record_fields)
        return f"{type(self).__qualname__}({shown})"


def record_dict(record: FrozenRecord) -> dict[str, Any]:
    """The record as a dict, recursively, as ``dataclasses.asdict`` makes one.

    Nested records become dicts; lists, tuples and dicts are rebuilt with their items
    converted; any other value is kept as it is (the records hold no mutable leaves).
    """
    return {field: _converted(getattr(record, field)) for field in record._record_fields}


def _converted(value: object) -> object:
    if isinstance(value, FrozenRecord):
        return record_dict(value)
    if isinstance(value, list | tuple):
        return type(value)(_converted(item) for item in value)
    if isinstance(value, dict):
        return type(value)((_converted(key), _converted(item)) for key, item in value.items())
    return value
