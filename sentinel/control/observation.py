"""What a control plane saw: a table of metrics per target, and its digest.

An observation is columnar (one float array per metric, one entry per target) so a rule
set is evaluated over a thousand agents in a few numpy operations. A missing value is NaN:
every comparison with it is false, so a rule never fires on what was not observed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentinel import _native
from sentinel.errors import InvalidInputError

DIGEST_VERSION: Final = b"sentinel-control-observation/1\n"

Column = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Observation:
    """One plane's view at one tick.

    Args:
        plane: The plane that observed (``agent``, ``platform``, ``api``).
        tick: When.
        targets: What each row is about (agent ids, ``audit-store``, a route...).
        columns: Metric name -> float64 array with one value per target (NaN: unknown).
    """

    plane: str
    tick: int
    targets: tuple[str, ...]
    columns: Mapping[str, Column]
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, column in self.columns.items():
            if column.shape != (len(self.targets),):
                raise InvalidInputError(
                    f"observation column {name!r} has shape {column.shape}, "
                    f"expected ({len(self.targets)},)"
                )

    def _rows(self) -> dict[str, int]:
        # Built on first use: a plane's loop keeps its own row ids, so most observations
        # (a thousand targets a minute) never need it.
        if not self._index and self.targets:
            self._index.update({target: n for n, target in enumerate(self.targets)})
        return self._index

    @classmethod
    def of_rows(
        cls, plane: str, tick: int, rows: Mapping[str, Mapping[str, float | None]]
    ) -> Observation:
        """Build from ``{target: {metric: value}}`` (a missing metric is NaN)."""
        targets = tuple(rows)
        names = sorted({name for row in rows.values() for name in row})
        columns = {
            name: np.array([_nan(rows[target].get(name)) for target in targets], dtype=np.float64)
            for name in names
        }
        return cls(plane, tick, targets, columns)

    def value(self, target: str, metric: str) -> float | None:
        """The metric of one target; None when the target or the value is unknown."""
        row = self._rows().get(target)
        column = self.columns.get(metric)
        if row is None or column is None:
            return None
        value = float(column[row])
        return None if math.isnan(value) else value

    def index(self) -> Mapping[str, int]:
        """Target -> its row in every column (read-only by convention: the observation's own)."""
        return self._rows()

    def row(self, target: str) -> dict[str, float]:
        """Every known metric of one target."""
        row = self._rows().get(target)
        if row is None:
            return {}
        found = {name: float(column[row]) for name, column in self.columns.items()}
        return {name: value for name, value in found.items() if not math.isnan(value)}

    def digest(self) -> str:
        """SHA-256 over the plane, tick, targets and the columns' little-endian float64 bytes.

        Written natively (``sentinel._native.observation_digest``); what it leaves to the
        reference (:meth:`reference_digest`: a tick past 64 bits, targets that are not a
        tuple of strings, text UTF-8 cannot encode) the reference hashes, or raises on.
        """
        names = sorted(self.columns)
        columns = [np.asarray(self.columns[name], dtype=np.float64) for name in names]
        found = _native.observation_digest(self.plane, self.tick, self.targets, names, columns)
        return found if found is not None else self.reference_digest()

    def reference_digest(self) -> str:
        """:meth:`digest` in Python (the reference a hypothesis test pins it to)."""
        sha = hashlib.sha256(DIGEST_VERSION)
        sha.update(f"{self.plane}|{self.tick}|{len(self.targets)}\n".encode())
        sha.update("\x1f".join(self.targets).encode())
        names = sorted(self.columns)
        if not names:
            return sha.hexdigest()
        table = np.stack([np.asarray(self.columns[n], dtype="<f8") for n in names])
        table[np.isnan(table)] = np.nan  # one NaN bit pattern
        size = len(self.targets) * 8
        data = table.tobytes()
        for n, name in enumerate(names):
            sha.update(f"\n{name}\n".encode())
            sha.update(data[n * size : (n + 1) * size])
        return sha.hexdigest()

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form (NaN as null) that :meth:`from_record` reads back bit for bit."""
        columns: dict[str, list[float | None]] = {}
        for name, column in sorted(self.columns.items()):
            values: list[float | None] = column.tolist()
            if np.isnan(column).any():  # only then the slow path: NaN is not JSON
                values = [None if v is None or math.isnan(v) else v for v in values]
            columns[name] = values
        return {"targets": list(self.targets), "columns": columns}

    @classmethod
    def from_record(cls, plane: str, tick: int, record: Mapping[str, Any]) -> Observation:
        """The observation :meth:`to_record` wrote.

        Raises:
            InvalidInputError: The record is not an observation.
        """
        try:
            targets = tuple(str(t) for t in record["targets"])
            columns = {
                str(name): np.array([_nan(v) for v in values], dtype=np.float64)
                for name, values in record["columns"].items()
            }
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InvalidInputError(f"not a recorded observation: {exc}") from None
        return cls(plane, tick, targets, columns)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def empty(plane: str, tick: int, metrics: Sequence[str] = ()) -> Observation:
    """An observation with no targets."""
    return Observation(plane, tick, (), {m: np.zeros(0, dtype=np.float64) for m in metrics})
