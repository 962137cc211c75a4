"""FrozenRecord behaves as the frozen dataclass it replaces on the launch path."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.frozen_record import FrozenRecord, FrozenRecordError, record_dict


class Inner(FrozenRecord):
    name: str
    tags: tuple[str, ...]


class Outer(FrozenRecord):
    """A record with a nested one, a mapping and a default."""

    inner: Inner
    table: dict[str, Inner]
    count: int = 0
    """A default, documented as a field is."""


@dataclasses.dataclass(frozen=True)
class InnerDC:
    name: str
    tags: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class OuterDC:
    inner: InnerDC
    table: dict[str, InnerDC]
    count: int = 0


def _both(name: str, tags: list[str], count: int) -> tuple[Outer, OuterDC]:
    record = Outer(Inner(name, tuple(tags)), {name: Inner(name=name, tags=())}, count=count)
    reference = OuterDC(InnerDC(name, tuple(tags)), {name: InnerDC(name=name, tags=())}, count)
    return record, reference


@given(st.text("abc \\'\""), st.lists(st.text(), max_size=3), st.integers())
def test_fields_dict_and_repr_match_a_dataclass(name: str, tags: list[str], count: int) -> None:
    record, reference = _both(name, tags, count)
    assert record_dict(record) == dataclasses.asdict(reference)
    assert repr(record) == repr(reference).replace("DC(", "(")
    assert record == Outer(Inner(name, tuple(tags)), {name: Inner(name, ())}, count)
    assert pickle.loads(pickle.dumps(record)) == record  # noqa: S301 - our own bytes
    assert copy.deepcopy(record) == record  # as dataclasses.asdict copies a non-dataclass


def test_defaults_equality_and_hash() -> None:
    assert Outer(Inner("a", ()), {}).count == 0
    assert Inner("a", ("b",)) == Inner(name="a", tags=("b",))
    assert Inner("a", ()) != Inner("b", ())
    assert hash(Inner("a", ("b",))) == hash(Inner("a", ("b",)))
    assert Inner("a", ()) != ("a", ())  # another class never compares equal
    with pytest.raises(TypeError, match="unhashable"):
        hash(Outer(Inner("a", ()), {}))  # a dict field, as a frozen dataclass would say


def test_frozen() -> None:
    record = Inner("a", ())
    with pytest.raises(FrozenRecordError, match="'name'"):
        record.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del record.tags
    assert record.name == "a"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("a", (), "x"), {}, "takes 2 arguments but 3 were given"),
        (("a",), {}, "missing required argument: 'tags'"),
        (("a", ()), {"other": 1}, "unexpected keyword argument 'other'"),
        (("a", ()), {"name": "b"}, "multiple values for argument 'name'"),
    ],
)
def test_constructor_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Inner(*args, **kwargs)


def test_class_errors() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        class Mutable(FrozenRecord):
            items: list[str] = []  # noqa: RUF012 - the mistake under test

    with pytest.raises(TypeError, match="'second' without a default"):

        class Order(FrozenRecord):
            first: int = 0
            second: int  # type: ignore[misc]
