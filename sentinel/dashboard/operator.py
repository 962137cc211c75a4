"""Operator actions on a live run: pause, resume, quarantine an agent, start a chaos event.

The dashboard's HTTP handlers only *submit* an action; the run's own thread applies it at
the next tick boundary (:meth:`Operator.on_tick`, the runtime's ``on_tick`` hook), so the
world and the engine are never touched from two threads. Every submitted action, accepted
or refused (wrong token included), becomes an ``operator.action`` event on the ``operator``
stream of the run's audit store, appended by the run's writer: the trail shows who changed
the run, when (tick) and what the answer was. The token itself is never recorded.
"""

from __future__ import annotations

import hmac
import queue
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sentinel.audit import NewEvent
from sentinel.errors import InvalidInputError

if TYPE_CHECKING:
    from sentinel.agents.runtime import Engine

OPERATOR_STREAM: Final = "operator"
OPERATOR_EVENT: Final = "operator.action"
ACTIONS: Final = ("pause", "resume", "quarantine", "chaos")
"""What an operator can do (issue 18)."""
NEVER: Final = 2**62
"""A tick no run reaches: a quarantined agent's next decision, task and attack."""
PAUSED_POLL_S: Final = 0.05
"""While paused, the run's thread looks for new actions (and Ctrl-C) this often."""
MIN_TOKEN_CHARS: Final = 16
"""Ours: shorter tokens are guessable by anyone on the host who can reach loopback."""
LIVE_SNAPSHOT_TICKS: Final = 60
"""Ours: with a dashboard attached the run records a ``world.snapshot`` every simulated
minute (not every 10), so the floor plan moves live; ~3.3 kB each, ~1.6 MB per shift."""


@dataclass
class _Request:
    action: str
    target: str
    room: str
    authorized: bool
    done: Future[dict[str, Any]] = field(default_factory=Future)


class Operator:
    """The operator's control of one run, shared by the HTTP server and the run's thread.

    Args:
        token: The secret an operator must present (``Authorization: Bearer <token>``).
    """

    def __init__(self, token: str) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise InvalidInputError(
                f"the operator token must have at least {MIN_TOKEN_CHARS} characters"
            )
        self._token = token.encode()
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self.attached = False
        """True once a run calls :meth:`on_tick` (actions need a run to act on)."""
        self.paused = False
        self.quarantined: set[str] = set()

    def authorized(self, presented: str | None) -> bool:
        """Whether ``presented`` is the token (compared in constant time)."""
        return presented is not None and hmac.compare_digest(presented.encode(), self._token)

    def submit(
        self, action: str, target: str = "", room: str = "", *, authorized: bool
    ) -> Future[dict[str, Any]]:
        """Queue an action for the run's thread; the future gets the recorded payload."""
        request = _Request(action, target, room, authorized)
        self._queue.put(request)
        return request.done

    # -- the run's thread ------------------------------------------------------------------

    def on_tick(self, engine: Engine) -> None:
        """The runtime's hook, before each tick: apply queued actions; wait while paused."""
        if not self.attached:
            self.attached = True
            engine.snapshot_every = min(engine.snapshot_every, LIVE_SNAPSHOT_TICKS)
        self._drain(engine)
        while self.paused and not engine.stop.is_set():
            try:
                request = self._queue.get(timeout=PAUSED_POLL_S)
            except queue.Empty:
                continue
            self._apply(engine, request)
        for agent_id in self.quarantined & engine.agents.keys():
            state = engine.agents[agent_id]
            if state.next_decision != NEVER:  # (again) on duty: keep it out of the run
                self._isolate(engine, agent_id)

    def _drain(self, engine: Engine) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            self._apply(engine, request)

    def _apply(self, engine: Engine, request: _Request) -> None:
        reason = "" if request.authorized else "no or wrong operator token"
        if not reason:
            reason = self._act(engine, request)
        payload: dict[str, Any] = {
            "action": request.action,
            "target": request.target,
            "room": request.room,
            "decision": "refused" if reason else "accepted",
            "reason": reason,
        }
        if engine.record is not None:
            tick = engine.world.tick
            engine.record([NewEvent(OPERATOR_STREAM, OPERATOR_EVENT, payload, tick=tick)])
        request.done.set_result(payload)

    def _act(self, engine: Engine, request: _Request) -> str:
        """Do the action; return why it was refused ("" when it was done)."""
        action, target = request.action, request.target
        if action == "pause":
            if self.paused:
                return "the run is paused already"
            self.paused = True
        elif action == "resume":
            if not self.paused:
                return "the run is not paused"
            self.paused = False
        elif action == "quarantine":
            if target not in engine.agents:
                return f"agent {target!r} is not on duty"
            if target in self.quarantined:
                return f"agent {target!r} is quarantined already"
            self.quarantined.add(target)
            self._isolate(engine, target)
        elif action == "chaos":
            return _start_chaos(engine, target, request.room)
        else:
            return f"unknown action {action!r}; use one of {', '.join(ACTIONS)}"
        return ""

    @staticmethod
    def _isolate(engine: Engine, agent_id: str) -> None:
        """No more decisions, tasks, attacks or conversations for the agent this run."""
        state = engine.agents[agent_id]
        state.next_decision = state.next_task = state.next_attack = NEVER
        engine.days.stop(agent_id)


def _start_chaos(engine: Engine, kind: str, room: str) -> str:
    """Start chaos event ``kind`` now (in ``room`` when the kind has no room of its own)."""
    params = engine.world.params
    if kind not in params.chaos_names:
        return f"unknown chaos kind {kind!r}; use one of {', '.join(params.chaos_names)}"
    number = params.chaos_names.index(kind)
    state = engine.world.state
    fixed = int(params.tables["chaos_fixed_room"][number])
    if fixed < 0:
        if room not in params.room_ids:
            return f"chaos kind {kind!r} needs a room; unknown room {room!r}"
        fixed = params.room_ids.index(room)
    state["chaos_left"][number] = int(params.tables["chaos_duration"][number])
    state["chaos_room"][number] = fixed
    return ""
