"""A run whose one agent drifts on its route: the live judge, the planes and a real store.

Four agents of the shipped company chat through a gateway with two offline routes
(``offline`` serving, ``offline-2`` the fallback); in the first judge window one agent's
messages are three quarters another persona's. The control planes run every tick with the
live judge attached; every tick's events are stored. Shared by the control tests and the
dashboard's browser test (which shows the rollback and the verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentinel.agents.backends import gateway_persona
from sentinel.audit import AuditStore, NewEvent
from sentinel.control import Policy
from sentinel.control.live_judge import LiveJudge
from sentinel.control.office import OfficeControl
from sentinel.gateway import Gateway
from sentinel.gateway.persona import Persona
from sentinel.gateway.settings import ProviderSettings, RoutingSettings
from sentinel.judge.voices import swapped, voice
from tests.control.office import office
from tests.gateway.conftest import settings_with

ROUTES = (
    ProviderSettings(name="offline", kind="offline", model="offline"),
    ProviderSettings(name="offline-2", kind="offline", model="offline-2"),
)
END = 7201
"""Two judge windows of an hour (the judge runs at 3601 and 7201, with the API plane)."""


def two_route_gateway(ledger: Path, fallback: str | None = "offline-2") -> Gateway:
    """A gateway serving ``offline``, with ``offline-2`` as the fallback (or none)."""
    routing = RoutingSettings(primary="offline", fallback=fallback)
    providers = ROUTES if fallback else ROUTES[:1]
    return Gateway(settings_with(routing=routing, providers=providers), ledger_path=ledger)


def chat(agent_id: str, text: str, tick: int, route: str) -> list[NewEvent]:
    """A forwarded decision through ``route`` and the chat it produced, as a run records them."""
    decision = {"agent_id": agent_id, "kind": "need", "decision": "forwarded", "rule": route,
                "actions": [], "cost_usd": 0.0}  # fmt: skip
    return [
        NewEvent("runtime", "runtime.decision", decision, tick=tick),
        NewEvent(
            f"agent/{agent_id}",
            "world.action",
            {"agent_id": agent_id, "action_type": "chat", "content": text},
            tick=tick,
        ),
    ]


def reference(persona: Persona) -> list[str]:
    """The voice the test messages are written in (richer than the offline provider's)."""
    return voice(persona, 60, 10_000)


@dataclass
class DriftingRun:
    """What :func:`drifting_run` ran."""

    control: OfficeControl
    drifted: str
    clean: list[str]


def drifting_run(path: Path, gateway: Gateway) -> DriftingRun:
    """Run the planes with the live judge for two windows; every event stored at ``path``."""
    engine = office(ticks=1)
    policy = Policy.from_text(
        Policy.default().text.replace(b'embeddings = "auto"', b'embeddings = "tfidf"')
    )
    control = OfficeControl.for_run(engine, policy, gateway=gateway)
    personas = {p.identity.id: gateway_persona(p) for p in engine.company.personas}
    drifted, *clean = sorted(personas)[:4]
    lines = {a: voice(personas[a], 48, 1) for a in clean}
    lines[drifted] = swapped(personas[drifted], personas[clean[0]], 24, 1, 0.75) + voice(
        personas[drifted], 24, 2
    )
    with AuditStore(path) as store:
        control.attach_judge(
            LiveJudge(
                personas,
                "offline",
                policy.document.judge,
                primary=lambda: gateway.settings.routing.primary,
                position=lambda: int(store.head()[0]),
                reference=reference,
            )
        )
        for tick in range(1, END + 1):
            route = gateway.settings.routing.primary
            events: list[NewEvent] = []
            if tick % 150 == 0 and tick < END - 1:
                n = tick // 150 - 1  # 24 messages per agent in each window
                for agent_id in sorted(lines):
                    events += chat(agent_id, lines[agent_id][n], tick, route)
            control.tick(tick, events)
            if events:
                store.append_batch(events)
        events = []
        control.finish(END, events)
        store.append_batch(events)
    return DriftingRun(control, drifted, clean)
