"""Control policies: parsing, errors that name file and field, revisions, ``decide``."""

from __future__ import annotations

import copy
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.control import Observation, Policy, decide, decide_row
from sentinel.control.agent_plane import AGENT_METRICS, AgentActuator
from sentinel.control.api_plane import API_METRICS, ApiActuator
from sentinel.control.platform_plane import PLATFORM_METRICS, PlatformActuator
from sentinel.control.policy import fired_rows, reference_fired_rows
from sentinel.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = b"""
revision = "r1"
[[rule]]
id = "x.high"
plane = "agent"
when = ["stress >= 85", "hunger < 50"]
action = "lower_workload"
verify = { condition = "stress < 50" }
"""


def test_the_embedded_default_is_config_control_toml() -> None:
    assert (ROOT / "config" / "control.toml").read_bytes() == Policy.default().text
    default = Policy.default()
    default.check("agent", AGENT_METRICS, AgentActuator.actions)
    default.check("platform", PLATFORM_METRICS, PlatformActuator.actions)
    default.check("api", API_METRICS, ApiActuator.actions)


def test_the_revision_is_the_label_and_the_bytes() -> None:
    one = Policy.from_text(GOOD)
    assert one.revision.startswith("r1@") and len(one.revision) == 3 + 16
    assert Policy.from_text(GOOD + b"\n").revision != one.revision  # same label, other bytes


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (b"revision = ", None, "not valid TOML"),
        (GOOD.replace(b'"stress >= 85"', b'"stress >>= 85"'), "rule.0.when", "metric op number"),
        (GOOD.replace(b'mode = ""', b"") + b'\n[planes.agent]\ninterval_ticks = 0\n',
         "planes.agent.interval_ticks", "greater than or equal"),
        (GOOD.replace(b'plane = "agent"', b'plane = "moon"'), "rule.0.plane", "'agent'"),
        (GOOD.replace(b'id = "x.high"', b'id = "X high"'), "rule.0.id", "pattern"),
        (GOOD + GOOD.split(b"\n", 2)[2], "rule", "appears twice"),
        (GOOD.replace(b'verify = { condition = "stress < 50" }', b""), "rule.0.verify", "required"),
    ],
)  # fmt: skip
def test_bad_policies_name_the_file_and_field(text: bytes, field: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Policy.from_text(text, "bad.toml")
    assert caught.value.path == Path("bad.toml")
    assert caught.value.field == field or str(caught.value.field).startswith(str(field))


def test_a_rule_must_read_the_planes_metrics_and_name_its_actions(tmp_path: Path) -> None:
    path = tmp_path / "control.toml"
    path.write_bytes(GOOD.replace(b"hunger < 50", b"cpu_share < 50"))
    with pytest.raises(ConfigError, match="observes no metric 'cpu_share'") as caught:
        Policy.load(path).check("agent", AGENT_METRICS, AgentActuator.actions)
    assert caught.value.field == "rule.0.when.1" and caught.value.path == path
    quarantine = Policy.from_text(GOOD.replace(b'"lower_workload"', b'"quarantine"'))
    with pytest.raises(ConfigError, match="no action 'quarantine'"):
        quarantine.check("agent", AGENT_METRICS, AgentActuator.actions)
    with pytest.raises(ConfigError, match="cannot read"):
        Policy.load(tmp_path / "missing.toml")


def test_unknown_values_never_fire() -> None:
    policy = Policy.from_text(GOOD.replace(b'"hunger < 50"', b'"hunger != 50"'))
    observation = Observation(
        "agent", 0, ("a", "b"),
        {"stress": np.array([90.0, 90.0]), "hunger": np.array([math.nan, 10.0])},
    )  # fmt: skip
    assert [f.target for f in decide(observation, policy)] == ["b"]
    assert decide_row({"stress": 90.0, "hunger": math.nan}, policy, "agent") == []
    missing = Observation("agent", 0, ("a",), {"stress": np.array([90.0])})
    assert decide(missing, policy) == ()


def test_off_rules_are_not_evaluated_and_monitor_rules_fire_as_monitor() -> None:
    off = Policy.from_text(GOOD.replace(b'plane = "agent"', b'plane = "agent"\nmode = "off"'))
    watch = Policy.from_text(GOOD.replace(b'plane = "agent"', b'plane = "agent"\nmode = "monitor"'))
    row = Observation.of_rows("agent", 0, {"a": {"stress": 90.0, "hunger": 10.0}})
    assert decide(row, off) == ()
    assert [f.mode for f in decide(row, watch)] == ["monitor"]


values = st.one_of(st.floats(-1e3, 1e3), st.just(math.nan), st.sampled_from([0.0, 50.0, 85.0]))
rows = st.dictionaries(st.sampled_from(sorted(AGENT_METRICS)), values, max_size=9)


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=1, max_size=20))
def test_decide_equals_its_per_row_reference(table: list[dict[str, float]]) -> None:
    policy = Policy.default()
    targets = {f"t{n}": row for n, row in enumerate(table)}
    observation = Observation.of_rows("agent", 0, targets)
    fired = decide(observation, policy)
    expected = [
        (rule_id, target)
        for rule_id in (r.id for r in policy.rules_of("agent") if r.mode != "off")
        for target, row in targets.items()
        if rule_id in decide_row(row, policy, "agent")
    ]
    assert [(f.rule, f.target) for f in fired] == expected


_comparison = st.builds(
    lambda metric, op, value: f"{metric} {op} {value}",
    st.sampled_from(["a", "b", "c"]),  # c is never observed
    st.sampled_from([">=", "<=", ">", "<", "==", "!="]),
    st.sampled_from(["0", "1", "2.5", "-3", "1e-05"]),
)
_column = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0, 2.5, -3.0, 1e-05, math.nan, math.inf]), st.floats()),
    min_size=5, max_size=5,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(
        st.tuples(st.lists(_comparison, min_size=1, max_size=3),
                  st.sampled_from(["enforce", "monitor", "off"])),
        min_size=1, max_size=4,
    ),
    a=_column, b=_column,
    dtypes=st.tuples(*[st.sampled_from(["f8", "f8", "f4", "i8"])] * 2),
    observed=st.sampled_from(["ab", "a", "b", ""]),
)  # fmt: skip
def test_fired_rows_are_the_numpy_reference(
    rules: list[tuple[list[str], str]], a: list[float], b: list[float],
    dtypes: tuple[str, str], observed: str,
) -> None:  # fmt: skip
    lines = ['revision = "rows"']
    for n, (when, mode) in enumerate(rules):
        lines += [
            "[[rule]]", f'id = "r{n}"', 'plane = "agent"', f'mode = "{mode}"',
            f"when = {when!r}".replace("'", '"'), 'action = "nudge"',
            'verify = { condition = "a < 1" }',
        ]  # fmt: skip
    policy = Policy.from_text("\n".join(lines).encode())
    columns = {}
    for name, values, dtype in (("a", a, dtypes[0]), ("b", b, dtypes[1])):
        if name in observed:
            array = np.array(values, dtype=np.float64)
            if dtype == "i8":
                array = np.nan_to_num(array, posinf=7, neginf=-7).clip(-1e6, 1e6).astype(np.int64)
            else:
                with np.errstate(over="ignore"):
                    array = array.astype(dtype)
            columns[name] = array
    observation = Observation("agent", 0, tuple(f"T{n}" for n in range(5)), columns)
    got = fired_rows(observation, policy)
    expected = reference_fired_rows(observation, policy)
    assert [(rule.id, rows.tolist()) for rule, rows in got] == [
        (rule.id, rows.tolist()) for rule, rows in expected
    ]
    assert all(rows.dtype == np.intp for _, rows in got)


def test_a_policy_pickles_and_copies_with_its_native_rules() -> None:
    policy = Policy.default()
    observation = Observation.of_rows("agent", 0, {"t0": {"hunger": 95.0}, "t1": {"hunger": 5.0}})
    pickled = pickle.loads(pickle.dumps(policy))  # noqa: S301 - its own bytes, just made
    for other in (pickled, copy.deepcopy(policy), copy.copy(policy)):
        assert other.revision == policy.revision
        assert decide(observation, other) == decide(observation, policy)
