"""The main job: agents acting in the office world, tick by tick, governed end to end.

Each tick the world steps once (native); agents that came on duty get a warm sandbox and
agents that went off duty lose theirs; agents whose decision is due send their perception
through the gateway in one ``complete_many`` batch; the answers' actions apply to the world
(``move`` becomes a walk and, on arrival, a coffee, a meal or the bathroom; ``tool_use``
runs in the agent's sandbox and its result comes back in the next perception); red-team
agents run attacks from the breakout corpus; every event of the tick is appended in one
batch. What a replay needs (options, answers, tool results, attack verdicts, the final
state hash) is recorded as ``runtime.*`` events in the same store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from sentinel.agents.backends import (
    Answer,
    AttackOutcome,
    Backend,
    LiveBackend,
    Request,
    SimClock,
    ToolOutcome,
    gateway_persona,
    gateway_settings,
    make_run_dir,
    remove_run_dir,
)
from sentinel.agents.days import Conversation, OfficeDays
from sentinel.agents.options import RunOptions, company_for
from sentinel.agents.places import ERRAND, HUNGRY_FOR_A_MEAL, Places
from sentinel.agents.prompts import fingerprint, need_prompt, result_line
from sentinel.agents.redteam import (
    ATTACK_INTERVAL_TICKS,
    attack,
    attack_corpus,
    compromised_agents,
)
from sentinel.agents.snapshots import snapshot_event, snapshot_every_ticks
from sentinel.agents.work import WorkDesk
from sentinel.agents.work.desk import TASK_MAX_TOKENS, WORK_INTERVAL_TICKS
from sentinel.audit import AuditStore, NewEvent, verify_store
from sentinel.audit.event_types import AgentAction, AgentLifecycle
from sentinel.audit.location import remove_store
from sentinel.bus.run_hook import RunBus, open_run_bus
from sentinel.cas.run_workspaces import RunWorkspaces, open_run_workspaces, workspaces_report
from sentinel.config import load_company
from sentinel.config.company import Company
from sentinel.errors import InvalidInputError
from sentinel.gateway import Gateway
from sentinel.nightrun.recall import with_memories
from sentinel.probes.overhead import Arm, ProbeSwitch
from sentinel.probes.recorder import PROBE_STREAM
from sentinel.probes.run_probes import RunProbes, StartingProbes
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.wasi_tools import wasi_tool
from sentinel.world import Action, World
from sentinel.world.layout import EMPTY_PRIORITY

if TYPE_CHECKING:
    from sentinel.control.bus_source import BusEvents, CommittedEvents
    from sentinel.control.office import OfficeControl
    from sentinel.control.probe_window import ProbeCounts

RUNTIME_STREAM: Final = "runtime"
DECISION_INTERVAL_TICKS: Final = 300
"""An agent decides at most every 5 simulated minutes (ours: the gateway's per-agent rate
limit of 20 requests a minute is far away, and a shift makes ~1,750 requests)."""
SETTLED_TICKS: Final = 1800
"""Ours: an agent whose state is unchanged since a rule answered asks again after 30 minutes
at the earliest (the answer holds; asking every 5 minutes repeated the same rule all shift)."""
PROGRESS_EVERY_TICKS: Final = 600


MAX_REFUSED_SHARE: Final = 0.5
"""A run whose gateway refused more than half of the decisions synthesis did not answer
(no key, provider down, every request blocked) is not ok: its agents did not really work."""


@dataclass
class RunSummary:
    """What a run did, for the summary table and ``--json``."""

    ticks: int
    simulated_hours: float
    start_clock: str
    end_clock: str
    agents: int
    peak_on_duty: int
    events: int
    decisions: dict[str, int]
    tool_calls: int
    tool_failures: int
    attacks: int
    attacks_blocked: int
    unblocked: list[dict[str, str]]
    violations: int
    cost_usd: float
    chain_verified: bool | None
    store: str
    state_hash: str
    wall_s: float
    interrupted: bool = False
    wasi_tool_calls: int = 0
    """Tool calls that ran a WASI tool in Wasmtime (counted in ``tool_calls`` too)."""
    work: dict[str, int] = field(default_factory=dict)
    """Tickets: tasks, done, failed, commits, tests run/passed, files changed, shapes done."""
    sandboxes: dict[str, int] = field(default_factory=dict)
    """The sandbox pool: capacity, agents that held one, built, recycled, peak alive."""
    control: dict[str, Any] = field(default_factory=dict)
    """The control planes: per plane decisions, actions, verdicts, rollbacks; quarantines."""
    probes: dict[str, Any] = field(default_factory=dict)
    """Kernel probes: on or off (and why), and the totals over all agents."""
    hosts: list[dict[str, Any]] = field(default_factory=list)
    """``run --hosts N``: per worker host its store, log id, whether lost, events acknowledged."""
    workspaces: dict[str, Any] = field(default_factory=dict)
    """The agents' workspaces: ``fs`` (ext4 or cas); on cas, the object store, snapshots
    recorded and the dedup ratio (:meth:`sentinel.cas.run_workspaces.RunWorkspaces.report`)."""

    @property
    def refused_share(self) -> float:
        """Refused decisions over those that needed the gateway past synthesis (0 if none)."""
        kinds = {"refused": 0, "forwarded": 0, "learned": 0}
        for key, count in self.decisions.items():
            kind = key.split(":", 1)[0]
            if kind in kinds:
                kinds[kind] += count
        asked = sum(kinds.values())
        return kinds["refused"] / asked if asked else 0.0

    @property
    def problems(self) -> list[str]:
        """Why the run is not ok, one sentence each (empty when it is)."""
        found = [f"attack not blocked: {miss['scenario']}" for miss in self.unblocked]
        if self.chain_verified is False:
            found.append("the audit chain does not verify")
        if self.control.get("halted"):
            found.append(f"the control planes stopped: {self.control['halted']}")
        if self.refused_share > MAX_REFUSED_SHARE:
            found.append(
                f"{self.refused_share:.0%} of the decisions past synthesis were refused "
                f"(more than {MAX_REFUSED_SHARE:.0%}): the provider or gateway failed"
            )
        return found

    @property
    def ok(self) -> bool:
        """Every attack blocked, the chain verified, the provider mostly answering."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        data = dict(self.__dict__)
        data["ok"] = self.ok
        data["refused_share"] = round(self.refused_share, 4)
        data["problems"] = self.problems
        return data


def company_digest(company: Company) -> str:
    """SHA-256 over the personas, floor plan and simulation a run used."""
    document = {
        "personas": [p.model_dump(mode="json") for p in company.personas],
        "floor_plan": company.floor_plan.model_dump(mode="json"),
        "simulation": company.simulation.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@dataclass
class _AgentState:
    index: int
    next_decision: int = 0
    next_task: int = 0
    next_attack: int = 0
    tasks: int = 0
    attacks: int = 0
    last_result: str | None = None
    settled: tuple[str, int] | None = None
    """The fingerprint a rule last answered, and when: unchanged, the answer still holds."""


@dataclass
class Engine:
    """The tick loop over a world and a backend (live or recorded)."""

    company: Company
    options: RunOptions
    backend: Backend
    record: Callable[[list[NewEvent]], object] | None = None
    clock: SimClock | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    counters: Counter[str] = field(default_factory=Counter)
    unblocked: list[dict[str, str]] = field(default_factory=list)
    cost_usd: float = 0.0
    peak: int = 0
    sandboxes: dict[str, int] = field(default_factory=dict)
    """The live backend's sandbox pool report (empty for a replay)."""
    snapshot_every: int = 0
    """Ticks between ``world.snapshot`` events (0: every ``SNAPSHOT_EVERY_MINUTES``)."""
    control: OfficeControl | None = None
    """The control planes (sentinel.control), called at the end of every tick."""
    memories: dict[str, list[str]] = field(default_factory=dict)
    """Per agent, what it remembers from yesterday (:mod:`sentinel.nightrun`): its need
    prompts and the colleagues' questions put to it carry it."""
    after_tick: Callable[[Engine], None] | None = None
    """Called after each tick (the live bus publishes the tick summary)."""
    on_tick: Callable[[Engine], None] | None = None
    """Called in the loop's thread before each tick (the dashboard's operator actions)."""

    def __post_init__(self) -> None:
        self.world = World(self.company, seed=self.options.seed)
        self.places = Places(self.company)
        self.days = OfficeDays(
            self.company, self.world, self.world.seed, staggered=self.options.staggered
        )
        self.ids = self.world.agent_ids
        self.red = set(
            compromised_agents(self._candidates(), self.options.compromised, self.world.seed)
        )
        self.corpus = attack_corpus() if self.red else []
        self.desk = WorkDesk(
            self.world.seed,
            {p.id: p.identity.role for p in self.company.personas},
            frozenset(
                p.id for p in self.company.personas if "fs" in gateway_persona(p).capabilities
            ),
        )
        self.agents: dict[str, _AgentState] = {}
        self.spawned: set[str] = set()
        self._active = np.zeros(len(self.ids), dtype=bool)
        if self.snapshot_every <= 0:
            self.snapshot_every = snapshot_every_ticks(self.company.simulation.time_scale)

    def _candidates(self) -> list[str]:
        """Agents the run will see on duty (always-on and the shift sets it covers)."""
        sim = self.company.simulation
        ticks = self.options.ticks(self.company)
        hours = {
            (sim.start_hour + h) % 24 for h in range(int(np.ceil(ticks * sim.time_scale / 3600)))
        }
        sets = {0} | {
            s.set
            for s in sim.shifts
            if any((s.start_hour + h) % 24 in hours for h in range(s.hours))
        }
        return [p.id for p in self.company.personas if p.identity.shift_set in sets]

    def started_payload(self) -> dict[str, Any]:
        """The ``runtime.started`` payload: everything a replay needs to start the same."""
        return {
            "options": self.options.to_record(),
            "company_digest": company_digest(self.company),
            "seed": self.world.seed,
            "ticks": self.options.ticks(self.company),
            "compromised": sorted(self.red),
            "attack_corpus": [s.id for s in self.corpus],
            "initial_state_hash": self.world.state_hash(),
            **({"memories": self.memories} if self.memories else {}),
        }

    # -- the loop --------------------------------------------------------------------------

    def run(self, ticks: int, progress: Callable[[int], None] | None = None) -> int:
        """Run up to ``ticks`` ticks (fewer when stopped); return the ticks run."""
        done = 0
        while done < ticks and not self.stop.is_set():
            if self.on_tick is not None:
                self.on_tick(self)
                if self.stop.is_set():
                    break
            self.tick()
            done += 1
            if progress is not None and (done % PROGRESS_EVERY_TICKS == 0 or done == ticks):
                progress(done)
        return done

    def tick(self) -> None:
        """One tick: world, shift changes, errands, decisions, actions, tools, attacks."""
        self.world.step(1)
        tick = self.world.tick
        if self.clock is not None:
            self.clock.tick = tick
        events: list[NewEvent] = []
        self._shift_changes(tick, events)
        if self.record is not None and (tick == 1 or tick % self.snapshot_every == 0):
            events.append(snapshot_event(self.world, tick))  # what a notebook plots
        requests: list[Request] = [
            self._reply_request(talk, tick, events) for talk in self.days.tick(tick, events)
        ]
        due = self._due(tick)
        attackers: list[str] = []
        for agent_id in due:
            state = self.agents[agent_id]
            state.next_decision = tick + DECISION_INTERVAL_TICKS
            if agent_id in self.red and tick >= state.next_attack and self.corpus:
                if not self._tools_on(agent_id):
                    continue  # quarantined by the platform plane
                state.next_attack = tick + ATTACK_INTERVAL_TICKS
                attackers.append(agent_id)
                continue
            request = self._request(agent_id, state, tick)
            if request is not None:
                requests.append(request)
        if requests:
            answers = self.backend.decide(tick, requests)
            for request, answer in zip(requests, answers, strict=True):
                self._apply(tick, request, answer, events)
        for agent_id in attackers:
            self._attack(tick, agent_id, events)
        self._govern_and_commit(tick, events)
        if self.after_tick is not None:
            self.after_tick(self)

    def _govern_and_commit(self, tick: int, events: list[NewEvent]) -> None:
        """The planes, then the tick's batch stored (the planes' next input when fed after it).

        Planes that stopped (their bus input broke) stop the run after this tick.
        """
        if self.control is not None:
            self.control.tick(tick, events)
        if events and self.record is not None:
            stored = self.record(events)
            if self.control is not None:
                self.control.after_commit(stored)
        if self.control is not None and self.control.halted is not None:
            self.stop.set()  # the run does not go on ungoverned

    def _shift_changes(self, tick: int, events: list[NewEvent]) -> None:
        active = self.world.state["active"].astype(bool)
        if np.array_equal(active, self._active):
            return
        for index in np.flatnonzero(active & ~self._active):
            agent_id = self.ids[int(index)]
            self.backend.start(agent_id)
            stagger = int(index) * 37 % DECISION_INTERVAL_TICKS
            self.agents[agent_id] = _AgentState(
                int(index),
                next_decision=tick + stagger,
                next_task=tick + stagger,
                next_attack=tick + stagger,
            )
            self.spawned.add(agent_id)
            self.days.start(agent_id, tick)
            self._lifecycle(agent_id, "spawned", tick, events)
        for index in np.flatnonzero(~active & self._active):
            agent_id = self.ids[int(index)]
            self.backend.stop(agent_id)
            self.agents.pop(agent_id, None)
            self.days.stop(agent_id)
            self._lifecycle(agent_id, "retired", tick, events)
        self._active = active
        self.peak = max(self.peak, int(active.sum()))

    def _lifecycle(self, agent_id: str, change: str, tick: int, events: list[NewEvent]) -> None:
        payload = AgentLifecycle(agent_id=agent_id, change=change, reason="shift change")  # type: ignore[arg-type]
        events.append(NewEvent.of(payload, stream=f"agent/{agent_id}", tick=tick))
        self.counters[f"agents_{change}"] += 1

    def _reply_request(self, talk: Conversation, tick: int, events: list[NewEvent]) -> Request:
        """A conversation: recorded, and the addressed persona's answer asked of the gateway."""
        events.append(
            NewEvent(
                RUNTIME_STREAM,
                "runtime.conversation",
                {
                    "speaker": talk.speaker,
                    "addressee": talk.addressee,
                    "room": talk.room,
                    "line": talk.line,
                    "meeting": talk.meeting,
                },
                tick=tick,
            )
        )
        index = self.agents[talk.addressee].index
        text = f"It is {self.world.clock()}. {self.world.names[self.agents[talk.speaker].index]} "
        text += f'says to you: "{talk.line}"'
        text = with_memories(text, self.memories.get(talk.addressee))
        headphones = self.days.headphones(talk.addressee)
        return Request(
            talk.addressee,
            "reply",
            text,
            fingerprint(self.world, index, headphones=headphones),
            addressed=True,
        )

    def _due(self, tick: int) -> list[str]:
        return [
            agent_id
            for agent_id, state in self.agents.items()
            if tick >= state.next_decision and self.world.state["room"][state.index] >= 0
        ]

    def _request(self, agent_id: str, state: _AgentState, tick: int) -> Request | None:
        # Work comes first when a ticket is due (sentinel.agents.work); needs fill the other turns.
        index = state.index
        if tick >= state.next_task and self._tools_on(agent_id):
            state.next_task = tick + WORK_INTERVAL_TICKS
            ticket = self.desk.take(agent_id)
            if ticket is not None:
                state.tasks += 1
                return Request(agent_id, "task", ticket.prompt, None, max_tokens=TASK_MAX_TOKENS)
        queued = self.world.state["queue_priority"][index] != EMPTY_PRIORITY
        if queued.any():
            reason = self.world.decisions(index)[0][1]
            text = need_prompt(self.world, index, reason, state.last_result)
            text = with_memories(text, self.memories.get(agent_id))
            headphones = self.days.headphones(agent_id)
            current = fingerprint(self.world, index, headphones=headphones)
            settled = state.settled
            if settled and settled[0] == current and tick - settled[1] < SETTLED_TICKS:
                self.counters["decisions_settled"] += 1
                return None  # nothing changed since a rule answered: it is still being done
            return Request(agent_id, "need", text, current)
        return None

    def _apply(self, tick: int, request: Request, answer: Answer, events: list[NewEvent]) -> None:
        agent_id = request.agent_id
        state = self.agents[agent_id]
        self.counters[f"{answer.decision}:{answer.rule}"] += 1
        if request.kind == "need" and request.fingerprint is not None:
            settled = answer.decision == "synthesized"
            state.settled = (request.fingerprint, tick) if settled else None
        self.cost_usd += answer.cost_usd
        events.append(
            NewEvent(
                RUNTIME_STREAM,
                "runtime.decision",
                {
                    "agent_id": agent_id,
                    "kind": request.kind,
                    "decision": answer.decision,
                    "rule": answer.rule,
                    "actions": answer.actions,
                    "cost_usd": answer.cost_usd,
                },
                tick=tick,
            )
        )
        tools_ok = True
        tool_calls = 0
        run = self._desk_runner(tick, agent_id, events)
        if request.kind == "task" and not self.desk.open(agent_id, run):
            answer = Answer(answer.decision, answer.rule, [], answer.cost_usd)  # no ticket to work
        for action in answer.actions:
            kind = action["action_type"]
            events.append(
                NewEvent.of(
                    AgentAction.model_validate({"agent_id": agent_id, **action}),
                    stream=f"agent/{agent_id}",
                    tick=tick,
                )
            )
            if kind == "move":
                self._move(agent_id, state, action.get("target"))
            elif kind in ("emote", "work", "break") and action.get("target"):
                self.days.apply(agent_id, str(action.get("target")), tick, events)
            elif kind == "tool_use":
                if not self._tools_on(agent_id):
                    self.counters["tool_calls_quarantined"] += 1
                    continue
                if request.kind == "task" and tool_calls == 0:
                    self.world.set_flags(state.index, deadline=True)
                tool_calls += 1
                tool = str(action.get("target") or "")
                content = str(action["content"])
                outcome = self.backend.execute(tick, agent_id, content, events, tool=tool)
                self._tool_result(tick, agent_id, state, tool, content, outcome, events)
                tools_ok = tools_ok and outcome.exit_code == 0
                if not tools_ok:
                    break  # the next step builds on this one: stop at the first failure
        if request.kind == "task":
            self.desk.close(agent_id, tools_ok and tool_calls > 0, run)
        if tool_calls:
            # A task done lifts the deadline; a failed one is a conflict with the code.
            self.world.set_flags(state.index, deadline=False, conflict=not tools_ok)
            self.days.moods.task(agent_id, passed=tools_ok)

    def _desk_runner(
        self, tick: int, agent_id: str, events: list[NewEvent]
    ) -> Callable[[str, str], tuple[int | None, str]]:
        """Run and record one of the work desk's own commands in the agent's sandbox."""

        def run(tool: str, command: str) -> tuple[int | None, str]:
            outcome = self.backend.execute(tick, agent_id, command, events, tool=tool)
            self._tool_result(tick, agent_id, self.agents[agent_id], tool, command, outcome, events)
            return outcome.exit_code, outcome.output

        return run

    def _move(self, agent_id: str, state: _AgentState, target: object) -> None:
        s = self.world.state
        room = int(s["room"][state.index])
        current = self.world.params.room_ids[room] if room >= 0 else None
        destination = self.places.resolve(agent_id, str(target) if target else None, current)
        if destination is None:
            return
        kind = self.places.kind(destination)
        errand: Action | None = None
        if kind == "kitchen":
            meal = float(s["hunger"][state.index]) >= HUNGRY_FOR_A_MEAL
            errand = Action.MEAL if meal else Action.COFFEE
        elif kind in ERRAND:
            errand = ERRAND[kind]
        # The day planner walks the agent there if the room has space (else it stays).
        if self.days.move_for_answer(agent_id, destination, errand):
            self.counters["moves"] += 1

    def _tool_result(
        self,
        tick: int,
        agent_id: str,
        state: _AgentState,
        tool: str,
        command: str,
        outcome: ToolOutcome,
        events: list[NewEvent],
    ) -> None:
        self.counters["tool_calls"] += 1
        if outcome.exit_code != 0:
            self.counters["tool_failures"] += 1
        if wasi_tool(tool) is not None:
            self.counters["wasi_tool_calls"] += 1
            self.counters[f"wasi:{tool}"] += 1
        self.counters["violations"] += outcome.violations
        state.last_result = result_line(outcome.exit_code, outcome.output)
        events.append(
            NewEvent(
                RUNTIME_STREAM,
                "runtime.tool_result",
                {
                    "agent_id": agent_id,
                    "tool": tool,
                    "command": command,
                    "exit_code": outcome.exit_code,
                    "signal": outcome.signal,
                    "output": outcome.output,
                    "violations": outcome.violations,
                },
                tick=tick,
            )
        )

    def _attack(self, tick: int, agent_id: str, events: list[NewEvent]) -> None:
        state = self.agents[agent_id]
        scenario = self.corpus[(state.index + state.attacks) % len(self.corpus)]
        state.attacks += 1
        planned = attack(scenario, f"{agent_id}-{tick}")
        outcome: AttackOutcome = self.backend.attack(tick, agent_id, planned, events)
        self.counters["attacks"] += 1
        if outcome.result == "blocked":
            self.counters["attacks_blocked"] += 1
            self.counters["violations"] += 1
        else:
            self.unblocked.append(
                {
                    "agent_id": agent_id,
                    "scenario": scenario.id,
                    "result": outcome.result,
                    "evidence": outcome.evidence,
                    "tick": str(tick),
                }
            )
        events.append(
            NewEvent(
                RUNTIME_STREAM,
                "runtime.attack",
                {
                    "agent_id": agent_id,
                    "scenario": scenario.id,
                    "result": outcome.result,
                    "evidence": outcome.evidence,
                },
                tick=tick,
            )
        )

    def _tools_on(self, agent_id: str) -> bool:
        return self.control is None or self.control.tools_on(agent_id)

    def retire_all(self, events: list[NewEvent]) -> None:
        """End of the run: every agent still on duty goes off duty (sandboxes stop)."""
        tick = self.world.tick
        if self.control is not None:
            self.control.finish(tick, events)  # every open verification gets its verdict
        for agent_id in list(self.agents):
            self.backend.stop(agent_id)
            self.days.stop(agent_id)
            self._lifecycle(agent_id, "retired", tick, events)
        self.agents.clear()


@contextlib.contextmanager
def sigint_stops(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` (the loop ends after the current tick) instead of raising."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(
    options: RunOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    keep_workspaces: Path | None = None,
    stop: threading.Event | None = None,
    memories: dict[str, list[str]] | None = None,
    bus: str | None = None,
    on_tick: Callable[[Engine], None] | None = None,
    on_bus: Callable[[RunBus], None] | None = None,
) -> RunSummary:
    """Run the main job: the roster's shift in the world, with gateway, sandboxes and audit.

    Args:
        options: What to run.
        progress: Called as ``progress(ticks_done, ticks_total)`` every simulated 10 minutes.
        keep_workspaces: Copy each agent's workspace here when its sandbox stops.
        stop: Set it (or press Ctrl-C) to end the run after the current tick; the store is
            still checkpointed and verified.
        memories: Per agent, memories of an earlier day its need prompts carry.
        bus: A Zenoh endpoint (``tcp/127.0.0.1:7447``) to publish the run live on
            (:mod:`sentinel.bus`); a bus that cannot open is logged and the run goes on.
        on_tick: Called before each tick in the loop's thread (``Engine.on_tick``).
        on_bus: Called with the run's bus once it is open and before the run's first event
            (the bus-fed dashboard subscribes here). With it, the bus is required: one that
            cannot open raises ``BusError`` before anything is run.

    Returns:
        The summary; ``summary.ok`` is False when an attack was not blocked.

    Raises:
        InvalidInputError: The store exists already.
        ConfigError: The company is invalid.
        SandboxUnavailable: A sandbox layer the policy requires is missing on this host.
    """
    started = time.perf_counter()
    if options.store.exists():
        raise InvalidInputError(
            f"the store {options.store} exists; choose another --store, or pass --overwrite"
        )
    starting = StartingProbes(options.probes)  # loads while the run sets itself up
    try:
        return _run(options, starting, started, progress, keep_workspaces, stop, memories,
                    bus, on_tick, on_bus)  # fmt: skip
    finally:
        starting.abandon()  # a run that failed before taking them


def _run(
    options: RunOptions,
    starting: StartingProbes,
    started: float,
    progress: Callable[[int, int], None] | None,
    keep_workspaces: Path | None,
    stop: threading.Event | None,
    memories: dict[str, list[str]] | None,
    bus: str | None,
    on_tick: Callable[[Engine], None] | None,
    on_bus: Callable[[RunBus], None] | None,
) -> RunSummary:
    """:func:`run` once its probes are loading."""
    company = company_for(load_company(options.config), options)
    policy_file = options.config / "policies" / "agent.toml"
    policy = SandboxPolicy.from_toml(policy_file) if policy_file.is_file() else SandboxPolicy()
    clock = SimClock(company.simulation.time_scale)
    stop = stop if stop is not None else threading.Event()
    with sigint_stops(stop):  # from here on, Ctrl-C only ends the loop: cleanup always runs
        run_dir = make_run_dir()
        store = AuditStore(options.store)
        planes_bus = _planes_bus(options)
        live = _open_bus(bus, store, _attaching(planes_bus, on_bus), run_dir)
        backend: LiveBackend | None = None
        cas = open_run_workspaces(options.workspace_fs, options.store, store)
        probes = RunProbes(None, "not started: the run failed before its sandboxes")
        try:
            gateway = Gateway(
                gateway_settings(company, options.provider),
                personas=[gateway_persona(p) for p in company.personas],
                audit=store,
                ledger_path=":memory:",
                clock=clock,
            )
            # Loaded before the first sandbox group exists: each is watched from its start.
            probes = starting.recorder(store, lambda: clock.tick)
            backend = LiveBackend(
                gateway,
                policy,
                run_dir,
                options.provider,
                keep_workspaces=keep_workspaces,
                pool_capacity=options.sandboxes,
                cas=cas,
            )
            engine = Engine(
                company, options, backend, record=store.append_batch, clock=clock, stop=stop,
                memories=dict(memories or {}),
            )  # fmt: skip
            engine.after_tick = _after_tick(live, cas)
            switch = _probe_switch(options, probes)
            engine.on_tick = _before_tick(on_tick, switch)
            if options.control:
                session = None if probes.recorder is None else probes.recorder.session
                engine.control = _live_control(engine, backend, gateway, store, session)
                engine.control.feed_committed(_planes_input(options, planes_bus))
            started_payload = {**engine.started_payload(), "run_dir": str(run_dir)}
            store.append(RUNTIME_STREAM, "runtime.started", started_payload)
            total = options.ticks(company)
            ticks = engine.run(total, None if progress is None else lambda n: progress(n, total))
            _finish_switch(switch, probes, store)
            events: list[NewEvent] = []
            engine.retire_all(events)
            store.append_batch(events)
            engine.sandboxes = backend.pool_report()
            store.append(RUNTIME_STREAM, "runtime.finished", finished_payload(engine, ticks))
            store.checkpoint()
        finally:
            if backend is not None:
                backend.close()
            if cas is not None:
                cas.close()  # after the sandboxes: each workspace's last snapshot is in
            probe_report = probes.close()  # after the sandboxes: their last exits are in
            remove_run_dir(run_dir)
            _close_buses(planes_bus, live)
            store.close()
    report = verify_store(options.store)
    summary = summarize(engine, ticks, options.store, report.ok, time.perf_counter() - started)
    summary.probes, summary.workspaces = probe_report, workspaces_report(cas)
    return summary


def _probe_switch(options: RunOptions, probes: RunProbes) -> ProbeSwitch | None:
    """The switch that measures the probes' cost when ``probe_blocks`` asks for it."""
    if not options.probe_blocks or probes.recorder is None:
        return None
    first: Arm = "on" if options.probe_first == "on" else "off"
    return ProbeSwitch(probes.recorder, options.probe_blocks, first)


def _finish_switch(switch: ProbeSwitch | None, probes: RunProbes, store: AuditStore) -> None:
    """Attach the probes again after a switched run and record its blocks."""
    if switch is not None:
        probes.overhead = switch.finish()
        store.append(PROBE_STREAM, "probe.overhead", probes.overhead)


def _before_tick(
    on_tick: Callable[[Engine], None] | None, switch: ProbeSwitch | None
) -> Callable[[Engine], None] | None:
    """The engine's ``on_tick``: the caller's, after the probe switch's."""
    if switch is None:
        return on_tick

    def before(engine: Engine) -> None:
        switch.before_tick()
        if on_tick is not None:
            on_tick(engine)

    return before


def _live_control(
    engine: Engine,
    backend: LiveBackend,
    gateway: Gateway,
    store: AuditStore,
    probes: ProbeCounts | None,
) -> OfficeControl:
    """The planes of the main job (:func:`sentinel.control.office.for_live_run`)."""
    from sentinel.control.office import for_live_run  # noqa: PLC0415 - acyclic

    return for_live_run(engine, backend, gateway, store, probes)


def _planes_input(options: RunOptions, bus: BusEvents | None) -> CommittedEvents | None:
    """The planes' input after commit (``control_feed`` committed or bus), else None."""
    if options.control_feed == "tick":
        return None
    from sentinel.control.bus_source import CommittedEvents  # noqa: PLC0415 - acyclic

    return CommittedEvents(bus)


def _close_buses(planes: BusEvents | None, live: RunBus | None) -> None:
    """The planes' subscription first, then the run's bus (its last checkpoint published)."""
    if planes is not None:
        planes.close()
    if live is not None:
        live.close()


def _planes_bus(options: RunOptions) -> BusEvents | None:
    """The planes' subscription when they read from the bus (``control_feed = "bus"``)."""
    if options.control_feed != "bus":
        return None
    from sentinel.control.bus_source import BusEvents  # noqa: PLC0415 - zenoh only when asked

    return BusEvents()


def _attaching(
    planes: BusEvents | None, on_bus: Callable[[RunBus], None] | None
) -> Callable[[RunBus], None] | None:
    """What subscribes to the run's bus before its first event: the planes, then ``on_bus``."""
    if planes is None:
        return on_bus

    def attach(live: RunBus) -> None:
        planes.attach(live)
        if on_bus is not None:
            on_bus(live)

    return attach


def _open_bus(
    bus: str | None, store: AuditStore, on_bus: Callable[[RunBus], None] | None, run_dir: Path
) -> RunBus | None:
    """The run's bus, handed to ``on_bus`` before the first event (then it is required).

    Raises:
        BusError: ``on_bus`` is given and the bus cannot open, or ``on_bus`` failed; the
            store (which holds no event yet) and the run directory are removed, so a retry
            needs no ``--overwrite``.
    """
    live: RunBus | None = None
    try:
        live = open_run_bus(bus, store, required=on_bus is not None)
        if on_bus is not None and live is not None:
            on_bus(live)
    except BaseException:
        if live is not None:
            live.close()
        store.close()
        remove_store(store.path)
        remove_run_dir(run_dir)
        raise
    return live


def _after_tick(live: RunBus | None, cas: RunWorkspaces | None) -> Callable[[Engine], None] | None:
    """The engine's after-tick hook: the live bus's tick, then the workspaces' snapshots."""
    if cas is None:
        return None if live is None else live.tick_hook

    def hook(engine: Engine) -> None:
        if live is not None:
            live.tick_hook(engine)
        cas.at_tick(engine.world.tick)

    return hook


def finished_payload(engine: Engine, ticks: int) -> dict[str, Any]:
    """The ``runtime.finished`` payload: ticks run, the final state hash, the counters."""
    return {
        "ticks": ticks,
        "state_hash": engine.world.state_hash(),
        "interrupted": ticks < engine.options.ticks(engine.company),
        "counters": dict(sorted({**engine.counters, **engine.days.report()}.items())),
        "work": engine.desk.summary(),
        "unblocked": engine.unblocked,
        **({"control": engine.control.summary()} if engine.control is not None else {}),
    }


def summarize(
    engine: Engine, ticks: int, store_path: Path, verified: bool | None, wall_s: float
) -> RunSummary:
    """The summary of a finished engine."""
    counters = engine.counters
    decisions = {
        key: value
        for key, value in sorted(counters.items())
        if key.split(":", 1)[0] in ("synthesized", "learned", "forwarded", "refused")
    }
    with AuditStore(store_path) as store:
        events = store.head()[0]
        violations = sum(1 for _ in store.read(type="sandbox.violation"))
    sim = engine.company.simulation
    start_minute = sim.start_hour * 60
    end_minute = int(start_minute + ticks * sim.time_scale / 60) % (24 * 60)
    return RunSummary(
        ticks=ticks,
        simulated_hours=round(ticks * sim.time_scale / 3600, 3),
        start_clock=f"{sim.start_hour:02d}:00",
        end_clock=f"{end_minute // 60:02d}:{end_minute % 60:02d}",
        agents=len(engine.spawned),
        peak_on_duty=engine.peak,
        events=events,
        decisions=decisions,
        tool_calls=counters["tool_calls"],
        tool_failures=counters["tool_failures"],
        attacks=counters["attacks"],
        attacks_blocked=counters["attacks_blocked"],
        unblocked=engine.unblocked,
        violations=violations,
        cost_usd=round(engine.cost_usd, 6),
        chain_verified=verified,
        store=str(store_path),
        state_hash=engine.world.state_hash(),
        wall_s=round(wall_s, 3),
        interrupted=ticks < engine.options.ticks(engine.company),
        wasi_tool_calls=counters["wasi_tool_calls"],
        work=engine.desk.summary(),
        sandboxes=engine.sandboxes,
        control=engine.control.summary() if engine.control is not None else {},
    )
