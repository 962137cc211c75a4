"""The judge during a run: each window of the trail judged, verdicts as events and observations.

The control planes' runtime (:class:`sentinel.control.office.OfficeControl`) feeds every
tick's events here. At the first API plane iteration at least ``interval_ticks`` after the
last judging (``[judge]`` in ``control.toml``), the window since then is judged per agent:
drift against the persona's reference, fatigue and quality (:mod:`sentinel.judge`; the LLM
judge is left to ``sentinel-run judge``, it costs a model call per message). The verdicts
become ``judge.verdict`` events of the tick and the API plane's observations of the same
iteration; the last window is judged once more when the run ends (recorded, not acted on).

Windows, not the whole trail so far: each judging costs in proportion to the window (a run
of a day is judged in 24 windows of an hour), and a verdict after a route was rolled back
reads only messages of the new route. An agent whose window held too few messages for a
drift verdict (an offline run's agents say 2-4 things an hour; the test needs 8) carries
them into its next window, until a verdict is reached. Each verdict names the route that
served the agent in the window: the provider that answered most of its forwarded decisions,
else the gateway's primary at the judging (synthesized and learned answers pass through no
provider).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from threadpoolctl import threadpool_limits

from sentinel.audit import NewEvent
from sentinel.control.policy import JudgeSettings
from sentinel.gateway.persona import Persona
from sentinel.judge.embedding import Vectorizer, vectorizer
from sentinel.judge.judging import judge_messages, verdict_event
from sentinel.judge.messages import DERIVED_STREAMS, AgentTrail, add_event
from sentinel.judge.quality import judge_quality
from sentinel.judge.reference import reference_voice
from sentinel.judge.verdict import Verdict

Reference = Callable[[Persona], Sequence[str] | None]
"""A persona's reference voice (default: its route's answers to the calibration prompts)."""
WINDOW_KEY: Final = "live"
"""The idempotency key's input part of a live verdict: ``live:START-END`` ticks."""


class LiveJudge:
    """Judges a running run window by window.

    Args:
        personas: The run's personas by agent id (the drift references are theirs).
        provider: The run's provider (whose answers are the reference voice).
        settings: ``[judge]`` of the control policy.
        primary: The gateway's serving primary now (the route of a verdict whose agent
            had no forwarded decision in the window).
        position: The store's event count now (a verdict's ``input_end`` is computed from it).
        reference: A persona's reference voice (tests pass a richer one).
    """

    def __init__(
        self,
        personas: Mapping[str, Persona],
        provider: str,
        settings: JudgeSettings,
        *,
        primary: Callable[[], str],
        position: Callable[[], int],
        reference: Reference | None = None,
    ) -> None:
        self.personas = dict(personas)
        self.settings = settings
        self._primary = primary
        self._position = position
        self._reference: Reference = reference or (lambda p: reference_voice(p, provider))
        self._references: dict[str, Sequence[str] | None] = {}
        self._vectors: Vectorizer | None = None
        self._window: defaultdict[str, AgentTrail] = defaultdict(AgentTrail)
        self._routes: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._carried: dict[str, tuple[list[tuple[int, str]], Counter[str]]] = {}
        """Per agent whose last drift verdict lacked messages: those messages and routes."""
        self.window_start = 0
        self.judged_window = (0, 0)
        """The ticks (first, last) of the last window judged."""
        self.next_tick = settings.interval_ticks
        self.judgings = 0
        self.verdicts: list[Verdict] = []
        """Every verdict of this run, in order."""
        self.wall_s = 0.0
        """Seconds spent judging so far."""

    def feed(self, tick: int, events: Iterable[NewEvent]) -> None:
        """Add one tick's events to the window (the judge's own and the nightrun's are not)."""
        for event in events:
            if event.stream.split("/", 1)[0] in DERIVED_STREAMS:
                continue
            payload = event.payload
            add_event(self._window, event.type, payload, tick)
            if event.type == "runtime.decision" and payload.get("decision") == "forwarded":
                self._routes[str(payload["agent_id"])][str(payload["rule"])] += 1

    def due(self, tick: int) -> bool:
        """Whether a judging is due at ``tick``."""
        return self.settings.enabled and tick >= self.next_tick

    def judge(self, tick: int) -> list[Verdict]:
        """Judge the window up to ``tick`` (inclusive) and start the next one.

        Agents of the run's company with anything in the window get drift, fatigue and,
        with work or conversations to rate, quality verdicts; each names its route.
        """
        started = time.perf_counter()
        try:
            return self._judge(tick)
        finally:
            self.wall_s += time.perf_counter() - started

    def _judge(self, tick: int) -> list[Verdict]:
        window, routes = self._window, self._routes
        self._window, self._routes = defaultdict(AgentTrail), defaultdict(Counter)
        self.next_tick = tick + self.settings.interval_ticks
        self.judged_window = (self.window_start, tick)
        self.window_start = tick + 1
        self.judgings += 1
        ids = sorted(a for a in window if a in self.personas)
        if not ids:
            return []
        for agent_id in ids:  # too few messages for a drift verdict last time: judged with these
            carried = self._carried.pop(agent_id, None)
            if carried is not None:
                window[agent_id].messages[:0] = carried[0]
                routes[agent_id].update(carried[1])
        if self._vectors is None:
            self._vectors = vectorizer(self.settings.embeddings)
        vectors = self._vectors
        for agent_id in ids:
            if agent_id not in self._references:
                self._references[agent_id] = self._reference(self.personas[agent_id])
        messages = {a: [text for _, text in window[a].messages] for a in ids}
        verdicts = judge_messages(messages, {a: self._references[a] for a in ids}, vectors)
        with threadpool_limits(limits=1, user_api="blas"):  # see judge_messages
            verdicts += [judge_quality(a, window[a], vectors.vectors) for a in ids]
        primary = self._primary()
        verdicts = [
            dataclasses.replace(v, route=_route_of(routes.get(v.agent_id), primary))
            for v in verdicts
        ]
        for verdict in verdicts:
            if verdict.evaluation == "drift" and verdict.status == "insufficient_data":
                agent_id = verdict.agent_id
                self._carried[agent_id] = (window[agent_id].messages, routes[agent_id])
        verdicts.sort(key=lambda v: (v.agent_id, v.evaluation))
        self.verdicts += verdicts
        return verdicts

    def summary(self) -> dict[str, float | int]:
        """Judgings, verdicts, failed verdicts, alerts and the seconds spent, this run."""
        return {
            "judgings": self.judgings,
            "verdicts": len(self.verdicts),
            "failed": sum(1 for v in self.verdicts if v.status == "failed"),
            "alerts": sum(1 for v in self.verdicts if v.alert),
            "wall_s": round(self.wall_s, 3),
        }

    def events(self, verdicts: Sequence[Verdict], tick: int, before: int) -> list[NewEvent]:
        """The ``judge.verdict`` events of one judging.

        Args:
            verdicts: What :meth:`judge` returned.
            tick: The judging's tick (the events' tick).
            before: Events the tick appends before these (the window ends where they end).
        """
        input_end = self._position() + before
        first, last = self.judged_window
        window = f"{WINDOW_KEY}:{first}-{last}"
        name = self._vectors.name if self._vectors is not None else self.settings.embeddings
        return [
            dataclasses.replace(verdict_event(v, input_end, window, name), tick=tick)
            for v in verdicts
        ]


def _route_of(forwarded: Counter[str] | None, primary: str) -> str:
    """The provider that answered most forwarded decisions (ties: the first name), else primary."""
    if not forwarded:
        return primary
    return min(forwarded, key=lambda name: (-forwarded[name], name))
