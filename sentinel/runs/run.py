"""A recorded run as data frames: what happened in the office, read from its audit store.

:class:`Run` reads the store a :func:`sentinel.agents.run` wrote (read only, nothing is
replayed) and gives pandas frames (and Arrow tables) of agents over time, rooms over time,
decisions and tool calls. Time series come from the ``world.snapshot`` events the runtime
records every few simulated minutes; decisions and tool calls from the ``runtime`` stream.
All of them are hash-chained events, so what a notebook plots is what the trail proves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.agents.snapshots import AGENT_COLUMNS, ROOM_COLUMNS, WORLD_STREAM
from sentinel.audit import AuditStore, verify_store
from sentinel.errors import InvalidInputError
from sentinel.runs.html import key_value_table, row_table

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from sentinel.audit.verify import VerificationReport

RUNTIME_STREAM = "runtime"
"""The stream the runtime writes its start, decisions, tool results and end to."""
FIXED_KIND_COLUMNS = frozenset({"agent_id", "room", "emotion", "occupancy"})
"""Snapshot columns that are not measures (names and head counts keep their type)."""


@dataclass(frozen=True)
class RunRecordSummary:
    """What a recorded run says about itself (``runtime.started`` and ``runtime.finished``).

    Attributes:
        store: The audit store.
        seed: The world's seed.
        ticks: Ticks run.
        interrupted: The run was stopped before its planned end.
        state_hash: The world's state hash at the end.
        counters: The runtime's counters (decisions by rule, tool calls, moves, ...).
        snapshots: ``world.snapshot`` events recorded.
        events: Events in the store.
    """

    store: str
    seed: int
    ticks: int
    interrupted: bool
    state_hash: str
    counters: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    events: int = 0

    def _repr_html_(self) -> str:
        rows: dict[str, object] = {
            "store": self.store,
            "seed": self.seed,
            "ticks": self.ticks,
            "interrupted": self.interrupted,
            "state hash": self.state_hash[:16],
            "events": self.events,
            "world snapshots": self.snapshots,
            **self.counters,
        }
        return key_value_table("Run summary", rows)


class Run:
    """A finished run, read from its audit store.

    Args:
        path: The store (``.db``) a run wrote.

    Raises:
        InvalidInputError: No store at ``path``, or it holds no finished run.

    Example:
        >>> run = sentinel.Run("run.db")  # doctest: +SKIP
        >>> rooms = run.rooms  # doctest: +SKIP
        >>> rooms.pivot(index="minute", columns="room", values="co2_ppm")  # doctest: +SKIP
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InvalidInputError(f"no store at {self.path}")
        self._started: dict[str, Any] | None = None
        self._finished: dict[str, Any] | None = None
        self._snapshots: list[tuple[int, dict[str, Any]]] = []
        self._decisions: list[dict[str, Any]] = []
        self._tools: list[dict[str, Any]] = []
        with AuditStore(self.path, create=False) as store:
            self._events = len(store)
            for event in store.read(stream=RUNTIME_STREAM):
                row = {"tick": event.tick, **event.payload}
                if event.type == "runtime.started":
                    self._started = dict(event.payload)
                elif event.type == "runtime.finished":
                    self._finished = dict(event.payload)
                elif event.type == "runtime.decision":
                    self._decisions.append(row)
                elif event.type == "runtime.tool_result":
                    self._tools.append(row)
            for event in store.read(stream=WORLD_STREAM, type="world.snapshot"):
                self._snapshots.append((int(event.tick or 0), dict(event.payload)))
        if self._started is None or self._finished is None:
            raise InvalidInputError(
                f"{self.path} holds no finished run (no runtime.started/runtime.finished)"
            )

    @functools.cached_property
    def summary(self) -> RunRecordSummary:
        """Seed, ticks, end state and counters, as the run recorded them."""
        started, finished = self._started or {}, self._finished or {}
        return RunRecordSummary(
            store=str(self.path),
            seed=int(started.get("seed", 0)),
            ticks=int(finished.get("ticks", 0)),
            interrupted=bool(finished.get("interrupted", False)),
            state_hash=str(finished.get("state_hash", "")),
            counters={str(k): int(v) for k, v in dict(finished.get("counters", {})).items()},
            snapshots=len(self._snapshots),
            events=self._events,
        )

    def _series(self, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
        import pandas as pd  # noqa: PLC0415 - pandas is heavy; only frames pay for it

        frames = []
        for tick, payload in self._snapshots:
            frame = pd.DataFrame(payload[table])
            frame.insert(0, "clock", payload["clock"])
            frame.insert(0, "minute", payload["minute"])
            frame.insert(0, "tick", tick)
            frames.append(frame)
        order = ["tick", "minute", "clock", *columns]
        if not frames:
            return pd.DataFrame(columns=order)
        series = pd.concat(frames, ignore_index=True)[order]
        # Canonical JSON writes 21.0 as 21: numbers come back as ints; measures are floats.
        floats = [c for c in columns if c not in FIXED_KIND_COLUMNS]
        series[floats] = series[floats].astype("float64")
        return series

    @functools.cached_property
    def agents(self) -> pd.DataFrame:
        """Agents on duty over time: one row per snapshot and agent (room, needs, mood)."""
        return self._series("agents", ("agent_id", *AGENT_COLUMNS))

    @functools.cached_property
    def rooms(self) -> pd.DataFrame:
        """Rooms over time: one row per snapshot and room (head count, air, noise)."""
        return self._series("rooms", ROOM_COLUMNS)

    @functools.cached_property
    def decisions(self) -> pd.DataFrame:
        """Every decision: tick, agent, kind, decision (synthesized, forwarded ...), rule."""
        import pandas as pd  # noqa: PLC0415 - see _series

        columns = ["tick", "agent_id", "kind", "decision", "rule", "cost_usd", "actions"]
        rows = [{**row, "actions": len(row.get("actions", []))} for row in self._decisions]
        return pd.DataFrame(rows, columns=columns)

    @functools.cached_property
    def tool_calls(self) -> pd.DataFrame:
        """Every tool call: tick, agent, tool, command, exit code, signal, violations."""
        import pandas as pd  # noqa: PLC0415 - see _series

        columns = ["tick", "agent_id", "tool", "command", "exit_code", "signal", "violations"]
        return pd.DataFrame(self._tools, columns=columns)

    def arrow(self, name: str) -> pa.Table:
        """One of the frames (``agents``, ``rooms``, ``decisions``, ``tool_calls``) in Arrow.

        Raises:
            InvalidInputError: ``name`` is not one of them.
        """
        import pyarrow as pa  # noqa: PLC0415 - imported where used

        if name not in ("agents", "rooms", "decisions", "tool_calls"):
            raise InvalidInputError(
                f"no frame {name!r}; choose agents, rooms, decisions or tool_calls"
            )
        frame: pd.DataFrame = getattr(self, name)
        return pa.Table.from_pandas(frame, preserve_index=False)

    def verify(self) -> VerificationReport:
        """Verify the store (chain, checkpoints, signatures), as ``audit verify`` does."""
        return verify_store(self.path)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Run {self.path} ticks={s.ticks} seed={s.seed} events={s.events} "
            f"snapshots={s.snapshots} decisions={len(self._decisions)} "
            f"tool_calls={len(self._tools)}>"
        )

    def _repr_html_(self) -> str:
        s = self.summary
        head = key_value_table(
            "Run",
            {
                "store": self.path,
                "ticks": s.ticks,
                "seed": s.seed,
                "events": s.events,
                "world snapshots": s.snapshots,
                "decisions": len(self._decisions),
                "tool calls": len(self._tools),
                "state hash": s.state_hash[:16],
            },
        )
        if not self._snapshots:
            return head
        _, last = self._snapshots[-1]
        rooms = last["rooms"]
        names = list(rooms)
        rows = zip(*(rooms[n] for n in names), strict=True)
        return f"{head}<div>Rooms at {last['clock']}:</div>{row_table(names, rows)}"
