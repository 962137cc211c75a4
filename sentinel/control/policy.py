"""Control rules in TOML, with a revision, and ``decide``: which rules an observation fires.

A rule names its plane, a condition (``when``: comparisons of a metric with a number, all
of which must hold), the action its plane's actuator takes, how the action is verified
(``verify``), its cooldown and TTL, and a mode: ``enforce`` acts, ``monitor`` only counts
what it would have done, ``off`` is not evaluated. The policy's revision is the file's
``revision`` label joined with the SHA-256 of its bytes, so two different files never share
a revision (OPA decision logs: input, policy revision, the rules that fired).
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel import _native
from sentinel.control.observation import Observation
from sentinel.errors import ConfigError

Mode = Literal["enforce", "monitor", "off"]
Plane = Literal["agent", "platform", "api"]
PLANES: Final[tuple[Plane, ...]] = ("agent", "platform", "api")

_COMPARISON = re.compile(
    r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$"
)
OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Comparison:
    """``metric op value``, such as ``hunger >= 90``."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Comparison:
        """Parse ``metric op number``.

        Raises:
            ValueError: Not of that form.
        """
        match = _COMPARISON.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not 'metric op number' (op one of >= <= > < == !=)")
        return cls(match[1], match[2], float(match[3]))

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` satisfies the comparison (never for an unknown value)."""
        if value is None or math.isnan(value):
            return False
        return bool(OPERATORS[self.op](value, self.value))

    def worse(self, value: float, baseline: float, tolerance: float = 0.0) -> bool:
        """Whether ``value`` moved away from the comparison by more than ``tolerance``.

        Away means above ``baseline`` for ``<``/``<=``, below it for ``>``/``>=``.
        """
        if self.op in ("<", "<="):
            return value > baseline + tolerance
        if self.op in (">", ">="):
            return value < baseline - tolerance
        return False

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Comparison:
    """A comparison parsed once (conditions are read every iteration)."""
    return Comparison.parse(text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VerifySpec(_Strict):
    """How an action is verified (Argo Rollouts' analysis: a series and its limits).

    Each plane iteration after the action, until ``ttl_ticks`` passed, one measurement reads
    the ``condition``'s metric for the target: ``success`` when the condition holds,
    ``failure`` when the value is worse than when the action was taken, ``error`` when it
    could not be read, ``inconclusive`` otherwise.
    """

    condition: str
    initial_delay_ticks: int = Field(default=0, ge=0)
    """No measurement before this many ticks after the action (Argo's ``initialDelay``)."""
    tolerance: float = Field(default=0.0, ge=0)
    """A value worse than the baseline by at most this much is not a failure (the needs
    drift while an agent walks: hunger rises ~0.2 a minute)."""
    failure_limit: int = Field(default=0, ge=0)
    """More failures than this: Failed (and rolled back)."""
    error_limit: int = Field(default=2, ge=0)
    """More errors than this: Failed (an action that cannot be checked is not kept)."""
    inconclusive_limit: int = Field(default=1_000, ge=0)
    """More inconclusive measurements than this: Inconclusive before the TTL ends."""

    @field_validator("condition")
    @classmethod
    def _parses(cls, text: str) -> str:
        Comparison.parse(text)
        return text

    @property
    def comparison(self) -> Comparison:
        """The parsed condition."""
        return _parsed(self.condition)


class Rule(_Strict):
    """One control rule."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    plane: Plane
    mode: Mode = "enforce"
    when: list[str] = Field(min_length=1)
    action: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    cooldown_ticks: int = Field(default=600, ge=0)
    ttl_ticks: int = Field(default=900, ge=1)
    verify: VerifySpec
    reason: str = ""

    @field_validator("when")
    @classmethod
    def _comparisons(cls, items: list[str]) -> list[str]:
        for text in items:
            Comparison.parse(text)
        return items

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The parsed ``when`` list."""
        return tuple(_parsed(text) for text in self.when)


class PlaneSettings(_Strict):
    """How often a plane runs and how it backs off."""

    interval_ticks: int = Field(default=60, ge=1)
    backoff_base_ticks: int = Field(default=60, ge=1)
    """After an actuator error the key waits this long, doubled per further error."""
    backoff_max_ticks: int = Field(default=3600, ge=1)
    idempotency_horizon_ticks: int = Field(default=86_400, ge=1)
    """How long after its verification closed an applied key's outcome is remembered: the
    same key within it answers with the first outcome. A key names its tick and a plane
    sends only the current tick's, so only a clock set back further could repeat one; past
    it, the actuator forgets the key (its memory would otherwise grow for as long as the
    plane runs). Ours: a simulated day."""


class JudgeSettings(_Strict):
    """The judge during a run (:mod:`sentinel.control.live_judge`): when and with what.

    The judge runs at the first API plane iteration at least ``interval_ticks`` after the
    last judging, over the window of the run since then, and once more over the last window
    when the run ends; its verdicts are events and the API plane's observations.
    """

    enabled: bool = True
    interval_ticks: int = Field(default=3600, ge=1)
    """Ours: a simulated hour (enough messages per agent for a drift verdict, >= 8)."""
    embeddings: Literal["auto", "wordllama", "tfidf"] = "auto"


class PolicyDocument(_Strict):
    """The TOML file's shape."""

    revision: str = Field(min_length=1)
    planes: dict[Plane, PlaneSettings] = Field(default_factory=dict)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    rule: list[Rule] = Field(default_factory=list)


class Firing(NamedTuple):
    """A rule that fired for one target (a tuple: decide makes many)."""

    rule: str
    target: str
    mode: Mode


class Policy:
    """A loaded rule set.

    Args:
        document: The validated document.
        text: The file's bytes (for the revision and for replay).
        source: Where it came from (for error messages).
    """

    def __init__(self, document: PolicyDocument, text: bytes, source: str) -> None:
        self.document = document
        self.text = text
        self.source = source
        self.revision = f"{document.revision}@{hashlib.sha256(text).hexdigest()[:16]}"
        ids = [rule.id for rule in document.rule]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate is not None:
            raise ConfigError(f"rule id {duplicate!r} appears twice", path=source, field="rule")
        self.rules: dict[str, Rule] = {rule.id: rule for rule in document.rule}
        self._compiled: dict[str, tuple[tuple[Rule, tuple[Comparison, ...]], ...]] = {
            plane: tuple(
                (rule, rule.comparisons)
                for rule in document.rule
                if rule.plane == plane and rule.mode != "off"
            )
            for plane in PLANES
        }
        self._rule_rows = {plane: _rule_rows(rules) for plane, rules in self._compiled.items()}
        """Per plane, the metrics its rules read and the rules natively (``fired_rows``)."""

    def __getstate__(self) -> dict[str, Any]:
        """A policy pickles and copies without its native rules (made again from the rest)."""
        state = self.__dict__.copy()
        del state["_rule_rows"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._rule_rows = {plane: _rule_rows(rules) for plane, rules in self._compiled.items()}

    @classmethod
    def from_text(cls, text: bytes, source: str = "<control policy>") -> Policy:
        """Parse and validate TOML.

        Raises:
            ConfigError: Not TOML, or a field is invalid (the message names it).
        """
        try:
            data = tomllib.loads(text.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=source) from None
        try:
            document = PolicyDocument.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ConfigError(error["msg"], path=source, field=where) from None
        return cls(document, text, source)

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Read a policy file.

        Raises:
            ConfigError: Missing, not TOML, or invalid.
        """
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
        return cls.from_text(text, str(path))

    @classmethod
    def default(cls) -> Policy:
        """The embedded default (the same bytes as ``config/control.toml``)."""
        text = resources.files("sentinel.control").joinpath("control.toml").read_bytes()
        return cls.from_text(text, "sentinel/control/control.toml")

    def settings(self, plane: str) -> PlaneSettings:
        """The plane's settings (defaults when the file has none)."""
        found: PlaneSettings | None = self.document.planes.get(plane)  # type: ignore[call-overload]
        return found if found is not None else PlaneSettings()

    def rules_of(self, plane: str) -> list[Rule]:
        """Every rule of a plane, ``off`` ones included, in file order."""
        return [rule for rule in self.document.rule if rule.plane == plane]

    def check(self, plane: str, metrics: frozenset[str], actions: frozenset[str]) -> None:
        """Refuse rules a plane cannot evaluate or act on.

        Raises:
            ConfigError: A rule reads a metric the plane does not observe, or names an
                action the plane's actuator does not have (a rule cannot act through
                another plane's actuator).
        """
        for n, rule in enumerate(self.document.rule):
            if rule.plane != plane:
                continue
            for k, comparison in enumerate((*rule.comparisons, rule.verify.comparison)):
                if comparison.metric not in metrics:
                    where = f"rule.{n}.when.{k}" if k < len(rule.when) else f"rule.{n}.verify"
                    raise ConfigError(
                        f"the {plane} plane observes no metric {comparison.metric!r} "
                        f"(it has: {', '.join(sorted(metrics))})",
                        path=self.source,
                        field=where,
                    )
            if rule.action not in actions:
                raise ConfigError(
                    f"the {plane} plane's actuator has no action {rule.action!r} "
                    f"(it has: {', '.join(sorted(actions))})",
                    path=self.source,
                    field=f"rule.{n}.action",
                )


def decide(observation: Observation, policy: Policy) -> tuple[Firing, ...]:
    """The rules that fire on an observation: a pure function of both.

    Every comparison of a rule must hold for a target (NaN never holds). Firings come in
    rule order (the file's), then target order; ``off`` rules are not evaluated.
    """
    targets = observation.targets
    return tuple(
        Firing(rule.id, targets[int(n)], rule.mode)
        for rule, rows in fired_rows(observation, policy)
        for n in rows
    )


def _rule_rows(
    rules: tuple[tuple[Rule, tuple[Comparison, ...]], ...],
) -> tuple[tuple[str, ...], _native.RuleRows]:
    """The metrics ``rules`` read (in the order first read) and the rules natively."""
    metrics = tuple(dict.fromkeys(c.metric for _, comparisons in rules for c in comparisons))
    specs = [
        [(metrics.index(c.metric), c.op, c.value) for c in comparisons] for _, comparisons in rules
    ]
    return metrics, _native.RuleRows(specs, len(metrics))


def fired_rows(observation: Observation, policy: Policy) -> list[tuple[Rule, npt.NDArray[np.intp]]]:
    """Per rule that fired (file order), the rows of the targets it fired for.

    ``decide`` grouped by rule, without an object per firing (what the loop uses). Natively
    (``sentinel._native.RuleRows``) when every column the rules read is an aligned float64
    array, else :func:`reference_fired_rows` (numpy compares other dtypes in their own
    precision, and reads a packed record's fields).
    """
    rules = policy._compiled[observation.plane]
    metrics, native = policy._rule_rows[observation.plane]
    found = observation.columns
    columns = [found.get(metric) for metric in metrics]
    if not all(
        column is None
        or (
            type(column) is np.ndarray
            and column.dtype == np.float64
            and column.ndim == 1
            and column.flags.aligned  # a packed record's field is not: numpy reads it
        )
        for column in columns
    ):
        return reference_fired_rows(observation, policy)
    return [(rules[n][0], rows) for n, rows in native.fired(columns, len(observation.targets))]


def reference_fired_rows(
    observation: Observation, policy: Policy
) -> list[tuple[Rule, npt.NDArray[np.intp]]]:
    """:func:`fired_rows` in numpy, one mask per comparison (its reference)."""
    fired: list[tuple[Rule, npt.NDArray[np.intp]]] = []
    count = len(observation.targets)
    for rule, comparisons in policy._compiled[observation.plane]:
        mask = np.ones(count, dtype=bool)
        for comparison in comparisons:
            column = observation.columns.get(comparison.metric)
            if column is None:
                mask[:] = False
                break
            mask &= OPERATORS[comparison.op](column, comparison.value)
            if comparison.op == "!=":
                mask &= ~np.isnan(column)  # NaN != x is true in IEEE: unknown never fires
        rows = np.flatnonzero(mask)
        if rows.size:
            fired.append((rule, rows))
    return fired


def decide_row(row: Mapping[str, float], policy: Policy, plane: str) -> list[str]:
    """The rule ids that fire for one target's metrics (the per-row reference of ``decide``)."""
    return [
        rule.id
        for rule, comparisons in policy._compiled[plane]
        if all(c.holds(row.get(c.metric)) for c in comparisons)
    ]
