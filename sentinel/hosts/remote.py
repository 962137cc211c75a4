"""The coordinator's backend: each agent's decisions and tool work run on its worker host.

:class:`RemoteBackend` is a :class:`~sentinel.agents.backends.Backend`: the coordinator's
:class:`~sentinel.agents.runtime.Engine` steps the world and calls it exactly as it calls
the single-host backend. A tick's decisions go to every host at once (each its own agents'
requests, in the tick's order) and the answers come back into the tick's order, so what the
engine applies does not depend on which host answered first; tool work and attacks go to
the agent's host one at a time, in the engine's order.

A host whose connection fails (SIGKILL, a crash, a bad frame) is lost: its session is
killed, its agents are re-placed on the survivors (:class:`~sentinel.hosts.placement.Placement`),
those on duty start there, a ``runtime.host_lost`` event records who moved where, and the
request it did not answer is sent again to the agent's new host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel.agents.backends import Answer, AttackOutcome, Request, ToolOutcome
from sentinel.agents.redteam import Attack
from sentinel.audit import AuditStore, NewEvent
from sentinel.errors import HostLost
from sentinel.hosts import wire
from sentinel.hosts.fleet import WorkerLink
from sentinel.hosts.placement import Placement

HOST_LOST_TYPE = "runtime.host_lost"


@dataclass
class RemoteBackend:
    """Agents' answers and tool results from their worker hosts.

    Args:
        links: The worker hosts (host ``n`` at index ``n - 1``).
        placement: Which host runs which agent.
        store: The coordinator's store: its Lamport clock goes out with every request and
            takes in every reply; host losses are recorded in it.
        clock: The current tick (for the loss record).
    """

    links: list[WorkerLink]
    placement: Placement
    store: AuditStore
    clock: Callable[[], int] = lambda: 0
    on_duty: set[str] = field(default_factory=set)
    calls: int = 0

    def _link(self, host: int) -> WorkerLink:
        return self.links[host - 1]

    def send_to(self, host: int, message: dict[str, Any]) -> None:
        """Send ``message`` to ``host`` with our Lamport clock. Raises HostLost."""
        self.calls += 1
        self._link(host).send({**message, "lamport": self.store.clock.value})

    def receive_from(self, host: int) -> dict[str, Any]:
        """The host's next reply; its Lamport clock observed. Raises HostLost."""
        reply = self._link(host).receive()
        self.store.observe(int(reply.get("lamport", 0)))
        return reply

    def _call_for(self, agent_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` to the agent's host, re-placing it until a host answers."""
        while True:
            host = self.placement.home[agent_id]
            try:
                self.send_to(host, message)
                return self.receive_from(host)
            except HostLost as exc:
                self.lose(host, str(exc))

    def lose(self, host: int, reason: str) -> None:
        """Host ``host`` is gone: kill it, re-place its agents, start those on duty.

        Raises:
            HostError: It was the last host.
        """
        link = self._link(host)
        if link.lost is not None:
            return
        link.lost = reason
        link.kill()
        moved = self.placement.lose(host)
        self.store.append(
            "runtime",
            HOST_LOST_TYPE,
            {
                "host": host,
                "reason": reason,
                "acknowledged": link.acknowledged,
                "moved": dict(sorted(moved.items())),
            },
            tick=self.clock(),
        )
        for agent_id in sorted(moved):
            if agent_id in self.on_duty:
                self._call_for(agent_id, {"op": "start", "agents": [agent_id]})

    # -- the Backend protocol ---------------------------------------------------------------

    def start(self, agent_id: str) -> None:
        """The agent came on duty: its host makes ready."""
        self.on_duty.add(agent_id)
        self._call_for(agent_id, {"op": "start", "agents": [agent_id]})

    def stop(self, agent_id: str) -> None:
        """The agent went off duty: its host stops its sandbox."""
        self.on_duty.discard(agent_id)
        self._call_for(agent_id, {"op": "stop", "agents": [agent_id]})

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        """Every host answers its agents' requests at once; answers in the requests' order."""
        answers: list[Answer | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        while pending:
            by_host: dict[int, list[int]] = {}
            for position in pending:
                by_host.setdefault(self.placement.home[requests[position].agent_id], []).append(
                    position
                )
            sent: list[int] = []
            lost: dict[int, str] = {}
            for host, positions in sorted(by_host.items()):
                message = {
                    "op": "decide",
                    "tick": tick,
                    "requests": [wire.request_to_wire(requests[p]) for p in positions],
                }
                try:
                    self.send_to(host, message)
                    sent.append(host)
                except HostLost as exc:
                    lost[host] = str(exc)
            pending = []
            for host in sent:
                try:
                    reply = self.receive_from(host)
                except HostLost as exc:
                    lost[host] = str(exc)
                    continue
                for position, answer in zip(by_host[host], reply["answers"], strict=True):
                    answers[position] = wire.answer_from_wire(answer)
            for host, reason in sorted(lost.items()):
                self.lose(host, reason)
                pending.extend(by_host[host])
            pending.sort()
        return [answer for answer in answers if answer is not None]

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        """Run the command on the agent's host (its events go to that host's store)."""
        del events  # recorded by the host, in its own chain
        message = {"op": "execute", "tick": tick, "agent": agent_id, "command": command}
        reply = self._call_for(agent_id, {**message, "tool": tool})
        return wire.outcome_from_wire(reply["outcome"])

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        """Run the attack on the agent's host (its verdict's events go to that host's store)."""
        del events
        message = {
            "op": "attack",
            "tick": tick,
            "agent": agent_id,
            "scenario": attack.scenario.id,
            "nonce": attack.nonce,
        }
        reply = self._call_for(agent_id, message)
        return wire.attack_outcome_from_wire(reply["outcome"])

    def close(self) -> None:
        """Nothing here: the fleet finishes and reaps the hosts."""
