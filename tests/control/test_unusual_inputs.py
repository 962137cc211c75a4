"""Inputs the native loop must read as its reference does, or leave to it.

Found by a review of the native storm iteration: a packed record's float64 field (values
off alignment, a stride that is no whole number of values) was read as the neighbouring
bytes; a ``bytes`` detail was copied into the digest as JSON text; a detail the actuator
changed later in the step left the digest and the payload apart; a ``str`` subclass named a
plane otherwise than the reference's f-string. Each case is compared with the per-key
reference loop (tests/control/reference_loop.py), which walks the record at the step's end.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from sentinel.control import Actuator, Command, ControlPlane, Observation, Policy
from sentinel.control.clock import VirtualClock
from sentinel.control.policy import fired_rows, reference_fired_rows
from tests.control import reference_loop

POLICY_TEXT = b"""
revision = "r"
[planes.agent]
interval_ticks = 60
[[rule]]
id = "r0"
plane = "agent"
when = ["a >= 5"]
action = "nudge"
cooldown_ticks = 0
ttl_ticks = 600
verify = { condition = "a < 5" }
"""
TWO_RULES = POLICY_TEXT + POLICY_TEXT.split(b"[[rule]]")[1].replace(b'"r0"', b'"r1"').join(
    [b"[[rule]]", b""]
)
METRICS = frozenset({"a"})


def _never(tick: int) -> Observation:
    raise AssertionError("the tests hand each observation to step")


class _Act(Actuator):
    plane: ClassVar[str] = "agent"
    actions: ClassVar[frozenset[str]] = frozenset({"nudge"})

    def apply(self, command: Command) -> str:
        return f"nudged {command.target}"

    def revert(self, command: Command) -> str:
        return f"restored {command.target}"


def _planes(
    actuator: type[Actuator], text: bytes = POLICY_TEXT
) -> tuple[ControlPlane, reference_loop.ControlPlane]:
    policy = Policy.from_text(text, "test policy")
    fast = ControlPlane("agent", policy, _never, actuator(), METRICS, VirtualClock())
    slow = reference_loop.ControlPlane("agent", policy, _never, actuator(), METRICS, VirtualClock())
    return fast, slow


def _packed(values: list[float]) -> npt.NDArray[np.float64]:
    """A float64 field of a packed record: 4 bytes off alignment, a 12-byte stride."""
    table = np.zeros(len(values), dtype=[("id", "<i4"), ("a", "<f8")])
    table["a"] = values
    column: npt.NDArray[np.float64] = table["a"]
    assert not column.flags.aligned and column.strides == (12,)
    return column


def test_a_packed_record_column_fires_digests_and_verifies_as_the_reference() -> None:
    targets = ("T0", "T1", "T2")
    frames = [[1.0, 9.0, 7.0], [1.0, 2.0, 8.0], [1.0, 2.0, 3.0], [6.0, 2.0, 3.0]]
    fast, slow = _planes(_Act)
    for n, values in enumerate(frames):
        observation = Observation("agent", 60 * n, targets, {"a": _packed(values)})
        assert observation.digest() == observation.reference_digest()
        policy = fast.policy
        native = [(rule.id, rows.tolist()) for rule, rows in fired_rows(observation, policy)]
        numpy = [
            (rule.id, rows.tolist()) for rule, rows in reference_fired_rows(observation, policy)
        ]
        assert native == numpy
        got, want = fast.step(observation), slow.step(observation)
        assert got.to_payload() == want.to_payload()
        assert fast.previous == slow.previous == got.digest()
    assert fast.counters["actions"] >= 2 and fast.counters["verdict:Successful"] >= 1


class _BytesDetail(_Act):
    def apply(self, command: Command) -> str:
        if command.target == "T0":
            return "ok"
        return b'"ok"'  # type: ignore[return-value]  # breaks the contract on purpose


@pytest.mark.parametrize("loop", ["native", "reference"])
def test_a_bytes_detail_is_refused_as_the_reference_refuses_it(loop: str) -> None:
    """In a step where a verification closes (its entries' text spliced in), a ``bytes``
    detail was copied into the digest as JSON text; the reference refuses it (TypeError)."""
    plane = _planes(_BytesDetail)[0 if loop == "native" else 1]
    plane.step(Observation("agent", 0, ("T0",), {"a": np.array([9.0])}))  # acts on T0
    later = Observation("agent", 60, ("T0", "T1"), {"a": np.array([1.0, 9.0])})
    with pytest.raises(TypeError):
        plane.step(later)  # T0 verified, acts on T1


class _SharedDetail(_Act):
    """Returns one live dict, changed by every later call in the step (a status view)."""

    def __init__(self) -> None:
        super().__init__()
        self.state = {"nudges": 0}

    def apply(self, command: Command) -> str:
        self.state["nudges"] += 1
        return self.state  # type: ignore[return-value]  # breaks the contract on purpose


def test_a_detail_changed_later_in_the_step_is_digested_as_the_payload_holds_it() -> None:
    observation = Observation("agent", 0, ("T0",), {"a": np.array([9.0])})
    fast, slow = _planes(_SharedDetail, TWO_RULES)
    got, want = fast.step(observation), slow.step(observation)
    assert [a["detail"] for a in got.actions] == [{"nudges": 2}, {"nudges": 2}]
    assert fast.previous == got.digest() == slow.previous == want.digest()


class _Plane(str, enum.Enum):  # noqa: UP042 - a StrEnum formats as its value; this does not
    AGENT = "agent"


class _Formatted(str):
    def __format__(self, spec: str) -> str:
        return "formatted"


@pytest.mark.parametrize(
    ("plane", "name"), [(_Plane.AGENT, "a"), ("agent", _Formatted("a")), (_Formatted("x"), "a")]
)
def test_a_str_subclass_is_digested_as_the_reference_formats_it(plane: str, name: str) -> None:
    observation = Observation(plane, 60, ("T0", "T1"), {name: np.array([1.0, 2.0])})
    assert observation.digest() == observation.reference_digest()


def test_the_native_readers_refuse_an_array_they_cannot_view() -> None:
    """Handed a packed record's field directly, the native code refuses it (a view would
    read the neighbouring bytes); the Python callers above hand it an aligned copy."""
    policy = Policy.from_text(POLICY_TEXT, "test policy")
    _, native = policy._rule_rows["agent"]
    column = _packed([1.0, 9.0, 7.0])
    with pytest.raises(ValueError, match="not aligned"):
        native.fired([column], 3)
    assert [rows.tolist() for _, rows in native.fired([column.copy()], 3)] == [[1, 2]]
