"""The nightrun: each agent's day consolidated into memories, resumable and replayable.

:func:`run_nightrun` reads the trail since the last finished nightrun, extracts each
agent's episodes, scores them (:mod:`sentinel.nightrun.importance`) and stores each agent's
memories as one ``nightrun.memory`` event, one job at a time, through the job queue of
:mod:`sentinel.nightrun.queue` (kill -9 at any point, run again: nothing is done twice,
nothing is lost). Every job extends a step chain (``h0 = H(run_key ":" day)``); the last
event records the digest of all memories. :func:`replay_nightrun` re-executes the
consolidation from the trail and compares chain and digest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel.agents.options import RunOptions
from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import (
    MemoryItem,
    NightrunFinished,
    NightrunMemory,
    NightrunStarted,
)
from sentinel.errors import InvalidInputError
from sentinel.nightrun.consolidate import (
    consolidate,
    job_result,
    memory_digest,
    sha256_hex,
    step_hash,
)
from sentinel.nightrun.episodes import DERIVED_STREAMS, DayTrail, read_day
from sentinel.nightrun.queue import STREAM, job_key, stored

DEFAULT_SECONDS_PER_TICK = 1.0
"""SEED_NOTES, World: a tick is a simulated second (times the time scale)."""


@dataclass
class NightrunReport:
    """What a nightrun did.

    Attributes:
        store: The store.
        run_key: The run's id (a hash of the trail it read).
        day: Which night (1 after the first day).
        start: The trail read begins at this position ...
        end: ... and ends before this one.
        jobs: Agents consolidated.
        done_now: Jobs done by this call (the rest were stored before a crash).
        memories: Memories kept, over all agents.
        memory_digest: SHA-256 of all memories.
        step_head: The step chain's last hash.
        wall_s: Seconds taken.
    """

    store: str
    run_key: str
    day: int
    start: int
    end: int
    jobs: int
    done_now: int
    memories: int
    memory_digest: str
    step_head: str
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


@dataclass
class NightrunReplay:
    """A replayed nightrun: equal when chain and digest are reproduced."""

    store: str
    run_key: str
    recorded_digest: str
    replayed_digest: str
    steps: int
    mismatched_steps: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Digest and every step hash reproduced."""
        return self.recorded_digest == self.replayed_digest and not self.mismatched_steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "equal": self.equal}


def _seconds_per_tick(store: AuditStore) -> float:
    for event in store.read(stream="runtime", type="runtime.started", limit=1):
        options = RunOptions.from_record(dict(event.payload["options"]))
        ticks = int(event.payload.get("ticks") or 0)
        if ticks > 0:
            return options.duration_hours * 3600 / ticks
    return DEFAULT_SECONDS_PER_TICK


def _last_input(store: AuditStore, start: int) -> tuple[int, str]:
    """``(end, hash hex)`` of the last event at or after ``start`` outside derived streams."""
    size = len(store)
    position = size - 1
    while position >= start:
        event = store.at(position)
        if event is not None and event.stream not in DERIVED_STREAMS:
            return position + 1, event.hash.hex()
        position -= 1
    return start, ""


def _finished_runs(store: AuditStore) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Finished runs' started payloads, and the started payload of an unfinished run."""
    started: dict[str, dict[str, Any]] = {}
    finished: set[str] = set()
    for event in store.read(stream=STREAM):
        if event.type == "nightrun.started":
            started[str(event.payload["run_key"])] = dict(event.payload)
        elif event.type == "nightrun.finished":
            finished.add(str(event.payload["run_key"]))
    done = [p for k, p in started.items() if k in finished]
    open_runs = [p for k, p in started.items() if k not in finished]
    return done, (open_runs[-1] if open_runs else None)


def run_nightrun(
    path: Path | str, *, on_step: Callable[[int, str], None] | None = None
) -> NightrunReport:
    """Consolidate the day since the last nightrun (or resume an interrupted one).

    Args:
        path: The run's audit store.
        on_step: Called as ``on_step(index, agent_id)`` after each job's result is durable.

    Raises:
        InvalidInputError: No store at ``path``.
    """
    began = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    with AuditStore(path, create=False) as store:
        done, unfinished = _finished_runs(store)
        if unfinished is not None:
            plan = unfinished  # resume: the same trail, the same jobs
        else:
            start = max((int(p["end"]) for p in done), default=0)
            end, head = _last_input(store, start)
            if end == start and done:
                return _report_of(store, path, done[-1], began)  # nothing new since
            day = len(done) + 1
            run_key = sha256_hex(f"{start}:{end}:{head}".encode())[:32]
            plan = {"run_key": run_key, "day": day, "start": start, "end": end, "input_head": head}
        trail = read_day(store, int(plan["start"]), int(plan["end"]), _seconds_per_tick(store))
        jobs = sorted(trail.end_tick)
        run_key, day = str(plan["run_key"]), int(plan["day"])
        h0 = sha256_hex(f"{run_key}:{day}".encode())
        if unfinished is None:
            started = NightrunStarted(
                run_key=run_key, day=day, start=int(plan["start"]), end=int(plan["end"]),
                input_head=str(plan["input_head"]), jobs=jobs, h0=h0,
            )  # fmt: skip
            store.append_batch(
                [NewEvent.of(started, stream=STREAM, idempotency_key=job_key(run_key, "started"))]
            )
        have = stored(store, run_key)
        prev, results, now, kept = h0, {}, 0, 0
        for index, agent_id in enumerate(jobs):
            event = have.get(agent_id)
            if event is None:
                memories = consolidate(trail, agent_id)
                result = job_result(agent_id, day, len(trail.episodes.get(agent_id, [])), memories)
                link = step_hash(prev, result)
                payload = NightrunMemory(
                    run_key=run_key, day=day, agent_id=agent_id, step=index,
                    episodes=result["episodes"], memories=memories,
                    prev_step_hash=prev, step_hash=link,
                )  # fmt: skip
                store.append_batch(
                    [
                        NewEvent.of(
                            payload, stream=STREAM, idempotency_key=job_key(run_key, agent_id)
                        )
                    ]
                )
                now += 1
                if on_step is not None:
                    on_step(index, agent_id)
            else:
                result = job_result(
                    agent_id, day, int(event.payload["episodes"]),
                    [MemoryItem.model_validate(m) for m in event.payload["memories"]],
                )  # fmt: skip
                link = str(event.payload["step_hash"])
            results[agent_id] = result["memories"]
            kept += len(result["memories"])
            prev = link
        digest = memory_digest(results)
        finished = NightrunFinished(
            run_key=run_key, day=day, jobs=len(jobs), memory_digest=digest, step_head=prev
        )
        store.append_batch(
            [NewEvent.of(finished, stream=STREAM, idempotency_key=job_key(run_key, "finished"))]
        )
    return NightrunReport(
        str(path), run_key, day, int(plan["start"]), int(plan["end"]), len(jobs), now, kept,
        digest, prev, round(time.perf_counter() - began, 3),
    )  # fmt: skip


def _report_of(store: AuditStore, path: Path, plan: dict[str, Any], began: float) -> NightrunReport:
    """The report of an already finished run (nothing done now)."""
    have = stored(store, str(plan["run_key"]))
    finished = have["nightrun.finished"].payload
    kept = sum(len(e.payload["memories"]) for k, e in have.items() if k not in _MARKERS)
    return NightrunReport(
        str(path), str(plan["run_key"]), int(plan["day"]), int(plan["start"]), int(plan["end"]),
        int(finished["jobs"]), 0, kept, str(finished["memory_digest"]),
        str(finished["step_head"]), round(time.perf_counter() - began, 3),
    )  # fmt: skip


_MARKERS = frozenset({"nightrun.started", "nightrun.finished"})


def replay_nightrun(path: Path | str, run_key: str | None = None) -> NightrunReplay:
    """Re-execute a finished nightrun (the last one by default) from the trail; compare.

    Raises:
        InvalidInputError: No store, or no finished nightrun (with that key) in it.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    with AuditStore(path, create=False) as store:
        done, _ = _finished_runs(store)
        chosen = [p for p in done if run_key is None or p["run_key"] == run_key]
        if not chosen:
            raise InvalidInputError(
                f"{path} holds no finished nightrun{' ' + run_key if run_key else ''}"
            )
        plan = chosen[-1]
        key, day = str(plan["run_key"]), int(plan["day"])
        have = stored(store, key)
        trail: DayTrail = read_day(
            store, int(plan["start"]), int(plan["end"]), _seconds_per_tick(store)
        )
        prev = sha256_hex(f"{key}:{day}".encode())
        results: dict[str, Any] = {}
        mismatched = []
        for agent_id in plan["jobs"]:
            memories = consolidate(trail, agent_id)
            result = job_result(agent_id, day, len(trail.episodes.get(agent_id, [])), memories)
            prev = step_hash(prev, result)
            recorded = have.get(agent_id)
            if recorded is None or recorded.payload["step_hash"] != prev:
                mismatched.append(agent_id)
            results[agent_id] = result["memories"]
        recorded_digest = str(have["nightrun.finished"].payload["memory_digest"])
    return NightrunReplay(
        str(path), key, recorded_digest, memory_digest(results), len(plan["jobs"]), mismatched
    )
