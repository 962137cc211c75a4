"""Replay: re-execute a recorded run from its inputs and answers, and compare state hashes.

The store of a run holds its options and company digest (``runtime.started``), every
gateway answer (``runtime.decision``), every tool result (``runtime.tool_result``), every
attack verdict (``runtime.attack``) and the final state hash (``runtime.finished``). A
replay builds the same world, runs the same number of ticks and takes answers and results
from the record instead of the gateway and the sandboxes: no model is called and no
command runs. Equal final hashes prove the run is reproducible from its record.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel.agents.backends import Answer, AttackOutcome, Request, ToolOutcome
from sentinel.agents.options import RunOptions, company_for
from sentinel.agents.redteam import Attack
from sentinel.agents.runtime import Engine, company_digest
from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.verify import refuse_unverified
from sentinel.cas.restorable import check_restorable
from sentinel.cas.run_workspaces import objects_beside
from sentinel.config import load_company
from sentinel.errors import InvalidInputError


class ReplayDivergedError(InvalidInputError):
    """The replay asked for something the record does not hold (the run is not reproducible)."""


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of a replay."""

    store: str
    ticks: int
    recorded_hash: str
    replayed_hash: str
    decisions: int
    tool_results: int
    attacks: int
    control_decisions: int = 0
    """Control-plane iterations replayed from their recorded observations."""
    control_differences: list[str] = field(default_factory=list)
    """Replayed control decisions that differ from the recorded ones (sentinel.control)."""
    workspace_snapshots: int = 0
    """Recorded CAS workspace snapshots rebuilt from the run's object store."""
    workspace_differences: list[str] = field(default_factory=list)
    """Recorded snapshots that cannot be rebuilt (sentinel.cas.restorable)."""

    @property
    def equal(self) -> bool:
        """The replay reproduces the record.

        The final state hash and the control decisions equal the recorded ones, and every
        recorded workspace snapshot rebuilds to its recorded root.
        """
        return (
            self.recorded_hash == self.replayed_hash
            and not self.control_differences
            and not self.workspace_differences
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "equal": self.equal}


class RecordedBackend:
    """Answers, tool results and attack verdicts as the run recorded them, per tick."""

    def __init__(self, records: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
        self._queues: dict[tuple[str, int, str], deque[dict[str, Any]]] = defaultdict(deque)
        for kind, rows in records.items():
            for tick, payload in rows:
                self._queues[kind, tick, payload["agent_id"]].append(payload)
        self.used: dict[str, int] = defaultdict(int)

    def _next(self, kind: str, tick: int, agent_id: str) -> dict[str, Any]:
        queue = self._queues.get((kind, tick, agent_id))
        if not queue:
            raise ReplayDivergedError(
                f"replay diverged at tick {tick}: no recorded {kind} of {agent_id}"
            )
        self.used[kind] += 1
        return queue.popleft()

    def start(self, agent_id: str) -> None:
        """Nothing to start: no sandbox runs in a replay."""

    def stop(self, agent_id: str) -> None:
        """Nothing to stop."""

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        """The recorded answers."""
        answers = []
        for request in requests:
            row = self._next("runtime.decision", tick, request.agent_id)
            answers.append(Answer(row["decision"], row["rule"], row["actions"], row["cost_usd"]))
        return answers

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        """The recorded tool result."""
        row = self._next("runtime.tool_result", tick, agent_id)
        if row["command"] != command or row.get("tool", tool) != tool:
            raise ReplayDivergedError(
                f"replay diverged at tick {tick}: {agent_id} ran another command"
            )
        return ToolOutcome(row["exit_code"], row["signal"], row["output"], row["violations"])

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        """The recorded verdict."""
        row = self._next("runtime.attack", tick, agent_id)
        if row["scenario"] != attack.scenario.id:
            raise ReplayDivergedError(
                f"replay diverged at tick {tick}: {agent_id} ran another attack"
            )
        return AttackOutcome(row["result"], row["evidence"])

    def close(self) -> None:
        """Nothing to close."""

    def leftover(self) -> int:
        """Recorded rows the replay did not ask for."""
        return sum(len(queue) for queue in self._queues.values())


def replay(store_path: Path | str, *, config: Path | None = None) -> ReplayReport:
    """Re-execute the run recorded in ``store_path`` and compare the final state hash.

    Args:
        store_path: The audit store a :func:`sentinel.agents.run` wrote.
        config: The company directory (default: the one the run recorded).

    Every ``workspace.snapshot`` the run recorded (``--workspace-fs cas``) is rebuilt from
    the object store beside ``store_path`` (``<store>.cas``) and its Merkle root recomputed
    (:func:`sentinel.cas.restorable.check_restorable`).

    Returns:
        The report; ``report.equal`` tells whether the hashes match and every workspace
        snapshot is restorable.

    Raises:
        InvalidInputError: The store holds no finished run, or the company differs from
            the recorded one.
        ReplayDivergedError: The replay asked for an answer or result the record lacks.
        ChainBrokenError: The store does not verify (chain, rules, checkpoints, witness):
            a replay of a tampered record would prove nothing.
    """
    path = Path(store_path)
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    refuse_unverified(path)
    kinds = ("runtime.decision", "runtime.tool_result", "runtime.attack")
    records: dict[str, list[tuple[int, dict[str, Any]]]] = {kind: [] for kind in kinds}
    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    with AuditStore(path, create=False) as store:
        for event in store.read(stream="runtime"):
            payload = dict(event.payload)
            if event.type == "runtime.started":
                started = payload
            elif event.type == "runtime.finished":
                finished = payload
            elif event.type in records:
                records[event.type].append((int(event.tick or 0), payload))
    if started is None or finished is None:
        raise InvalidInputError(f"{path} holds no finished run (no runtime.started/finished)")
    options = RunOptions.from_record(started["options"])
    if config is not None:
        options = RunOptions(**{**options.__dict__, "config": config})
    company = company_for(load_company(options.config), options)
    if company_digest(company) != started["company_digest"]:
        raise InvalidInputError(
            f"the company in {options.config} differs from the one the run used; "
            "pass the run's config directory with --config"
        )
    backend = RecordedBackend(records)
    engine = Engine(company, options, backend)
    if (
        sorted(engine.red) != started["compromised"]
        or [s.id for s in engine.corpus] != started["attack_corpus"]
    ):
        raise InvalidInputError(
            "the red team or the attack corpus differs from the run's (another Sentinel "
            "version?); the replay would not ask for the same attacks"
        )
    recorded_control: dict[str, list[dict[str, Any]]] = {}
    if options.control:
        from sentinel.control.office import for_replay  # noqa: PLC0415 - acyclic

        with AuditStore(path, create=False) as store:
            engine.control, recorded_control = for_replay(engine, store)
    ticks = int(finished["ticks"])
    engine.run(ticks)
    control_records = [
        r for rows in recorded_control.values() for r in rows if r.get("observation") is not None
    ]
    differences: list[str] = []
    if engine.control is not None:
        from sentinel.control.replay import compare  # noqa: PLC0415 - acyclic

        replayed = [record.to_payload() for record in engine.control.records]
        differences = compare(control_records, replayed)
    if backend.leftover():
        raise ReplayDivergedError(
            f"replay diverged: {backend.leftover()} recorded answers or results were not asked for"
        )
    workspaces = check_restorable(path, objects_beside(path))
    return ReplayReport(
        store=str(path),
        ticks=ticks,
        recorded_hash=str(finished["state_hash"]),
        replayed_hash=engine.world.state_hash(),
        decisions=backend.used["runtime.decision"],
        tool_results=backend.used["runtime.tool_result"],
        attacks=backend.used["runtime.attack"],
        control_decisions=len(control_records),
        control_differences=differences,
        workspace_snapshots=workspaces.snapshots,
        workspace_differences=workspaces.differences,
    )
