"""The three planes in the main job: built around a running engine, called once a tick.

:class:`OfficeControl` holds the clock, the quarantine registry, and each plane with its own
observer and actuator. The runtime calls :meth:`OfficeControl.tick` at the end of every
tick (after the tick's actions, before its events are stored) and asks
:meth:`OfficeControl.tools_on` before it runs a tool, a ticket or an attack for an agent.
Each plane iteration appends one ``control.decision`` event to the tick's events. The
observers are fed the tick's events, or (``control_feed`` ``committed`` or ``bus``) the
previous tick's committed batch (:mod:`sentinel.control.bus_source`), the agent plane
then observing the people from the ``agent.state`` it published in that batch
(:mod:`sentinel.control.agent_feed`). With a
gateway, the judge runs here too (:class:`sentinel.control.live_judge.LiveJudge`): its
verdicts are appended before the planes run and are the API plane's observations.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sentinel.audit import NewEvent
from sentinel.control.actuator import Actuator
from sentinel.control.agent_feed import FedAgents, state_event
from sentinel.control.agent_plane import AGENT_METRICS, AgentActuator, observe_agents
from sentinel.control.api_plane import API_METRICS, ApiActuator, ApiObserver
from sentinel.control.bus_source import BusGapError, CommittedEvents, gap_payload
from sentinel.control.clock import VirtualClock
from sentinel.control.live_judge import LiveJudge
from sentinel.control.loop import ControlPlane, DecisionRecord, Observer
from sentinel.control.platform_plane import (
    PLATFORM_METRICS,
    PlatformActuator,
    PlatformObserver,
    Quarantine,
    SandboxLayer,
)
from sentinel.control.policy import Policy
from sentinel.control.probe_window import ProbeCounts

if TYPE_CHECKING:
    from sentinel.agents.backends import LiveBackend
    from sentinel.agents.runtime import Engine
    from sentinel.audit import AuditStore
    from sentinel.gateway import Gateway
    from sentinel.world import World

CONTROL_STREAM: Final = "control"
POLICY_FILE: Final = "control.toml"
"""A company directory's own control policy (else the embedded default)."""


def load_policy(config: Path | None) -> Policy:
    """The company's ``control.toml``, else the embedded default.

    Raises:
        ConfigError: The company's file is invalid.
    """
    if config is not None and (config / POLICY_FILE).is_file():
        return Policy.load(config / POLICY_FILE)
    return Policy.default()


def decision_event(record: DecisionRecord) -> NewEvent:
    """The ``control.decision`` event of one record."""
    return NewEvent(
        f"{CONTROL_STREAM}/{record.plane}",
        "control.decision",
        record.to_payload(),
        tick=record.tick,
    )


def policy_event(policy: Policy) -> NewEvent:
    """The ``control.policy`` event: the rules' text and revision, once a run."""
    return NewEvent(
        CONTROL_STREAM,
        "control.policy",
        {"revision": policy.revision, "source": policy.source, "text": policy.text.decode()},
    )


class LiveSandboxes:
    """The sandbox layer of a live run, as the platform plane sees it."""

    def __init__(self, backend: LiveBackend) -> None:
        self._backend = backend

    def agents(self) -> list[str]:
        """Agents with a live sandbox in the pool."""
        return self._backend.sandboxes.agents()

    def pid(self, agent_id: str) -> int | None:
        """The sandbox's outermost process (None: no live sandbox)."""
        sandbox = self._backend.sandboxes.peek(agent_id)
        return sandbox.pid() if sandbox is not None else None

    def failed(self, agent_id: str) -> bool:
        """Whether its sandbox could not be built at its last command."""
        return agent_id in self._backend.failed_builds

    def warm(self, agent_id: str) -> bool:
        """Build it again now."""
        return self._backend.rebuild(agent_id)


class NoSandboxes:
    """No sandbox runs (a replay): nothing observed, nothing to kill."""

    def agents(self) -> list[str]:
        """None."""
        return []

    def pid(self, agent_id: str) -> int | None:
        """None."""
        return None

    def failed(self, agent_id: str) -> bool:
        """Never."""
        return False

    def warm(self, agent_id: str) -> bool:
        """Nothing to start."""
        return False


@dataclass
class OfficeControl:
    """The planes of one run."""

    policy: Policy
    clock: VirtualClock
    quarantine: Quarantine
    planes: dict[str, ControlPlane]
    feeders: list[Callable[[int, list[NewEvent]], None]] = field(default_factory=list)
    records: list[DecisionRecord] = field(default_factory=list)
    """Every record this run (also stored as events)."""
    api: ApiObserver | None = None
    clock_of: Callable[[int], str] | None = None
    """Tick -> simulated ``HH:MM`` (for the summary's quarantine times)."""
    judge: LiveJudge | None = None
    """The judge of a live run (None: no gateway, a replay, or ``[judge] enabled = false``)."""
    committed: CommittedEvents | None = None
    """Set: the observers are fed the previous tick's committed batch (``control_feed``
    ``committed``, or ``bus`` through its barrier) instead of the tick's own events."""
    agents_fed: FedAgents | None = None
    """Set with :attr:`committed`: the agent plane observes the people from the fed batch."""
    world: World | None = None
    """The running world (the ``agent.state`` the planes publish when fed after commit)."""
    halted: str | None = None
    """Why the planes stopped (a bus-fed input that did not arrive whole); None: running."""
    _announced: bool = False

    @classmethod
    def for_run(
        cls,
        engine: Engine,
        policy: Policy,
        *,
        sandboxes: SandboxLayer | None = None,
        gateway: Gateway | None = None,
        store_size: Callable[[], tuple[int, int]] | None = None,
        observers: dict[str, Observer] | None = None,
        actuators: dict[str, Actuator] | None = None,
        clock: VirtualClock | None = None,
        probes: ProbeCounts | None = None,
    ) -> OfficeControl:
        """Build the planes around ``engine`` (the API plane only with a gateway).

        ``observers`` and ``actuators`` replace a plane's own (a replay's recorded ones);
        ``probes`` is the run's kernel probe session (the platform plane's probe metrics).

        Raises:
            ConfigError: The policy does not fit a plane (metric, action).
        """
        clock = clock if clock is not None else VirtualClock(engine.world.tick)
        quarantine = Quarantine()
        layer: SandboxLayer = sandboxes if sandboxes is not None else NoSandboxes()
        platform = PlatformObserver(layer, quarantine, store_size, probes)
        own_observers: dict[str, Observer] = {
            "agent": lambda tick: observe_agents(engine.world, tick),
            "platform": platform,
        }
        own_actuators: dict[str, Actuator] = {
            "agent": AgentActuator(engine.world, engine.days, engine.places, engine.agents, clock),
            "platform": PlatformActuator(layer, quarantine, clock),
        }
        metrics = {"agent": AGENT_METRICS, "platform": PLATFORM_METRICS, "api": API_METRICS}
        feeders: list[Callable[[int, list[NewEvent]], None]] = [platform.feed]
        api: ApiObserver | None = None
        if gateway is not None:
            api = ApiObserver(gateway)
            own_observers["api"] = api
            own_actuators["api"] = ApiActuator(gateway)
            feeders.append(api.feed)
        own_observers.update(observers or {})
        own_actuators.update(actuators or {})
        planes = {
            name: ControlPlane(
                name, policy, own_observers[name], own_actuators[name], metrics[name], clock
            )
            for name in own_actuators
        }
        return cls(policy, clock, quarantine, planes, feeders, api=api, world=engine.world)

    def feed_committed(self, committed: CommittedEvents | None) -> None:
        """Feed the planes the previous tick's committed batch (None: the tick's events).

        The agent plane then observes the ``agent.state`` published in that batch instead
        of the world (:mod:`sentinel.control.agent_feed`).
        """
        self.committed = committed
        agent = self.planes.get("agent")
        if committed is None or agent is None:
            return
        self.agents_fed = FedAgents()
        agent.observe_with(self.agents_fed)

    def tools_on(self, agent_id: str) -> bool:
        """Whether the agent may run tools, take tickets and attack (not quarantined)."""
        return self.quarantine.tools_on(agent_id)

    def tick(self, tick: int, events: list[NewEvent]) -> None:
        """Feed the tick's events to the observers, run the planes that are due.

        With :attr:`committed` the observers get the previous tick's committed batch
        instead; read from the bus, a batch that did not arrive whole and intact halts the
        planes (a ``control.bus_gap`` event, :attr:`halted`): they never decide on it.
        """
        if self.halted is not None:
            return
        self.clock.tick = tick
        if not self._announced:
            self._announced = True
            events.append(policy_event(self.policy))
        fed = events
        if self.committed is not None:
            started = time.monotonic()
            try:
                fed = self.committed.take()
                if self.agents_fed is not None:
                    self.agents_fed.feed(tick, self.committed.taken)
            except BusGapError as exc:
                self.halted = str(exc)
                payload = gap_payload(exc, tick, time.monotonic() - started)
                events.append(NewEvent(CONTROL_STREAM, "control.bus_gap", payload, tick=tick))
                return
        for feed in self.feeders:
            feed(tick, fed)
        api = self.planes.get("api")
        if self.judge is not None and api is not None and api.due() and self.judge.due(tick):
            self._judge(self.judge, tick, events)
        for plane in self.planes.values():
            record = plane.tick()
            if record is not None:
                self.records.append(record)
                events.append(decision_event(record))
        self._publish_agents(tick, events)

    def _publish_agents(self, tick: int, events: list[NewEvent]) -> None:
        """The people's state at ``tick``, in its batch, when the agent plane is due next."""
        agent, fed, world = self.planes.get("agent"), self.agents_fed, self.world
        if agent is None or fed is None or world is None or agent.next_tick > tick + 1:
            return
        events.append(state_event(world, tick))
        fed.published(tick)

    def after_commit(self, stored: object) -> None:
        """The engine committed the tick's batch (``stored``: the store's events)."""
        if self.committed is not None and isinstance(stored, list):
            self.committed.committed(stored)

    def attach_judge(self, judge: LiveJudge) -> None:
        """Judge this run while it runs: ``judge`` reads every tick's events from now on."""
        self.judge = judge
        self.feeders.append(judge.feed)

    def _judge(self, judge: LiveJudge, tick: int, events: list[NewEvent]) -> None:
        """Judge the window up to ``tick``: verdict events, and the API plane's observation."""
        verdicts = judge.judge(tick)
        events.extend(judge.events(verdicts, tick, len(events)))
        if self.api is not None:
            self.api.feed_verdicts(verdicts)

    def finish(self, tick: int, events: list[NewEvent]) -> None:
        """Judge the last window; close the verifications still open (Inconclusive).

        The last window's verdicts are recorded; no plane iteration follows them.
        """
        self.clock.tick = tick
        if self.judge is not None:
            self._judge(self.judge, tick, events)
        for plane in self.planes.values():
            record = plane.finish(tick)
            if record is not None:
                self.records.append(record)
                events.append(decision_event(record))

    def summary(self) -> dict[str, Any]:
        """Counters per plane and the quarantines with when and why.

        Per plane: decisions, rules fired, actions, action errors, would-have-acted
        (monitor mode), verdicts and rollbacks.
        """
        planes: dict[str, dict[str, int]] = {}
        for name, plane in self.planes.items():
            counters: Counter[str] = plane.counters
            planes[name] = {
                "decisions": counters["decisions"],
                "fired": counters["fired"],
                "actions": counters["actions"],
                "action_errors": counters["action_errors"],
                "would_act": counters["would_act"],
                "successful": counters["verdict:Successful"],
                "failed": counters["verdict:Failed"],
                "inconclusive": counters["verdict:Inconclusive"],
                "rollbacks": counters["rollbacks"],
            }
        reasons = {rule.id: rule.reason for rule in self.policy.document.rule}
        quarantined = [
            {
                **entry,
                "clock": self.clock_of(int(entry["tick"])) if self.clock_of else None,
                "reason": reasons.get(str(entry.get("rule")), ""),
            }
            for entry in self.quarantine.history
        ]
        judge = {"judge": self.judge.summary()} if self.judge is not None else {}
        halted = {"halted": self.halted} if self.halted is not None else {}
        bus = self.committed.bus if self.committed is not None else None
        fed = {"bus": {"received": bus.received, "waited_s": round(bus.waited_s, 3)}} if bus else {}
        return {
            "revision": self.policy.revision,
            "planes": planes,
            "quarantine": quarantined,
            **judge,
            **halted,
            **fed,
        }


def _clock_of(engine: Engine) -> Callable[[int], str]:
    sim = engine.company.simulation

    def clock(tick: int) -> str:
        minute = int(sim.start_hour * 60 + tick * sim.time_scale / 60) % (24 * 60)
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return clock


def for_live_run(
    engine: Engine,
    backend: LiveBackend,
    gateway: Gateway,
    store: AuditStore,
    probes: ProbeCounts | None = None,
) -> OfficeControl:
    """The planes of the main job: the world, the live sandboxes, the gateway, the store.

    ``probes``: the run's kernel probe session, None when the run has none.

    Raises:
        ConfigError: The company's ``control.toml`` is invalid.
    """
    path = engine.options.store

    def store_size() -> tuple[int, int]:
        size = sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
        return int(store.head()[0]), size

    policy = load_policy(engine.options.config)
    control = OfficeControl.for_run(
        engine,
        policy,
        sandboxes=LiveSandboxes(backend),
        gateway=gateway,
        store_size=store_size,
        probes=probes,
    )
    control.clock_of = _clock_of(engine)
    if policy.document.judge.enabled:
        from sentinel.agents.backends import gateway_persona  # noqa: PLC0415 - acyclic

        control.attach_judge(
            LiveJudge(
                {p.identity.id: gateway_persona(p) for p in engine.company.personas},
                engine.options.provider,
                policy.document.judge,
                primary=lambda: gateway.settings.routing.primary,
                position=lambda: int(store.head()[0]),
            )
        )
    return control


def for_replay(
    engine: Engine, store: AuditStore
) -> tuple[OfficeControl, dict[str, list[dict[str, Any]]]]:
    """The planes of a replayed run: recorded observations, the run's outcomes re-applied.

    The agent and platform planes act on the replayed world and quarantine again (what the
    run's record says was applied is applied); the API plane only answers from the record
    (a replay calls no gateway). Returns the control and the recorded decisions per plane.

    Raises:
        ControlReplayError: The store holds no control record.
    """
    from sentinel.control.replay import (  # noqa: PLC0415 - replay only
        RecordedObservations,
        outcomes_of,
        read_control,
        replaying_actuator,
    )

    policy, by_plane = read_control(store)
    built = OfficeControl.for_run(engine, policy)
    inner: dict[str, Actuator | None] = {
        name: plane._actuator for name, plane in built.planes.items()
    }
    observers: dict[str, Observer] = {
        name: RecordedObservations(name, records) for name, records in by_plane.items()
    }
    actuators: dict[str, Actuator] = {
        name: replaying_actuator(name, inner.get(name), outcomes_of(records))
        for name, records in by_plane.items()
    }
    control = OfficeControl.for_run(
        engine, policy, observers=observers, actuators=actuators, clock=built.clock
    )
    control.quarantine = built.quarantine  # the inner platform actuator's registry
    control._announced = True
    return control, by_plane
