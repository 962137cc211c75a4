"""``sentinel-run run --hosts N``: one coordinator stepping the world, N worker hosts.

The coordinator owns the world (one deterministic stepper: the engine of the single-host
run), the run's options and its own store (``--store``: the ``runtime.*`` record of the
run, Lamport node ``coordinator``). Worker hosts own their agents' gateway, sandboxes and
audit chain (``run.hostN.db``, each its own log id and signing key). See
:mod:`sentinel.hosts.remote` for how a tick's work is split and put back in order, and how
a lost host's agents are re-placed.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentinel.agents.backends import SimClock
from sentinel.agents.options import RunOptions, company_for
from sentinel.agents.runtime import (
    RUNTIME_STREAM,
    Engine,
    RunSummary,
    finished_payload,
    sigint_stops,
    summarize,
)
from sentinel.audit import AuditStore, verify_store
from sentinel.config import load_company
from sentinel.errors import HostLost, InvalidInputError
from sentinel.hosts.fleet import WorkerLink, host_store, start_workers
from sentinel.hosts.network import HostNetwork
from sentinel.hosts.placement import Placement
from sentinel.hosts.remote import RemoteBackend

HOSTS_STARTED_TYPE = "runtime.hosts"


def run_stores(store: Path, hosts: int) -> list[Path]:
    """The coordinator's store and each worker host's, in host order."""
    return [store, *(host_store(store, host) for host in range(1, hosts + 1))]


def run_hosts(
    options: RunOptions,
    hosts: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    on_tick: Callable[[Engine], None] | None = None,
) -> RunSummary:
    """Run the main job across ``hosts`` worker hosts, each in its own network namespace.

    Control planes, kernel probes, the live bus and the dashboard are single-host features
    and do not run here (``options.control`` and ``options.probes`` are recorded off).

    Args:
        options: What to run (``options.store`` is the coordinator's store).
        hosts: Worker hosts (1-253).
        progress: Called as ``progress(ticks_done, ticks_total)``.
        stop: Set it (or press Ctrl-C) to end the run after the current tick.
        on_tick: Called before each tick (``Engine.on_tick``); the fault tests kill hosts here.

    Returns:
        The summary over every host (events and violations summed; ``hosts`` per host);
        ``chain_verified`` is True only when every host's store verifies.

    Raises:
        InvalidInputError: A store of the run exists already.
        HostError: A worker did not start, failed a request, or every host was lost.
        SandboxError: The namespaces could not be made.
    """
    started = time.perf_counter()
    # Recorded as run: no planes, no probes (so a replay of the record runs none either).
    options = dataclasses.replace(options, control=False, probes="off")
    stores = run_stores(options.store, hosts)
    for path in stores:
        if path.exists():
            raise InvalidInputError(
                f"the store {path} exists; choose another --store, or pass --overwrite"
            )
    company = company_for(load_company(options.config), options)
    clock = SimClock(company.simulation.time_scale)
    stop = stop if stop is not None else threading.Event()
    links: list[WorkerLink] = []
    with sigint_stops(stop), HostNetwork(hosts) as network:
        store = AuditStore(options.store, node="coordinator")
        try:
            links = start_workers(network, options.store, options.to_record())
            engine = Engine(company, options, None, record=store.append_batch, clock=clock,  # type: ignore[arg-type]
                            stop=stop)  # fmt: skip
            placement = Placement(engine.ids, hosts)
            backend = RemoteBackend(links, placement, store, clock=lambda: clock.tick)
            engine.backend = backend
            engine.on_tick = on_tick
            store.append(RUNTIME_STREAM, "runtime.started", engine.started_payload())
            store.append(RUNTIME_STREAM, HOSTS_STARTED_TYPE, hosts_payload(links, placement))
            total = options.ticks(company)
            ticks = engine.run(total, None if progress is None else lambda n: progress(n, total))
            events: list[Any] = []
            engine.retire_all(events)
            store.append_batch(events)
            _finish(backend, links)
            engine.sandboxes = _pool_total(links)
            finished = finished_payload(engine, ticks)
            store.append(
                RUNTIME_STREAM, "runtime.finished", {**finished, "hosts": hosts_report(links)}
            )
            store.checkpoint()
        finally:
            for link in links:
                link.close()
            store.close()
    verified = all(verify_store(path).ok for path in stores)
    summary = summarize(engine, ticks, options.store, verified, time.perf_counter() - started)
    summary.events, summary.violations = _totals(stores)
    summary.hosts = hosts_report(links)
    summary.probes = {"enabled": False, "reason": "not run on worker hosts"}
    return summary


def hosts_payload(links: list[WorkerLink], placement: Placement) -> dict[str, Any]:
    """The ``runtime.hosts`` payload: each host's store (name beside ours), log id, agents."""
    return {
        "hosts": [
            {
                "host": link.host,
                "store": link.store.name,
                "log_id": link.log_id,
                "agents": len(placement.agents_on(link.host)),
            }
            for link in links
        ]
    }


def hosts_report(links: list[WorkerLink]) -> list[dict[str, Any]]:
    """Per host: its store, whether it finished or was lost (and why), what it acknowledged."""
    return [
        {
            "host": link.host,
            "store": str(link.store),
            "log_id": link.log_id,
            "lost": link.lost,
            "acknowledged": link.acknowledged,
            "log": link.log.name,
        }
        for link in links
    ]


def _finish(backend: RemoteBackend, links: list[WorkerLink]) -> None:
    """Every surviving host stops its sandboxes, checkpoints and closes its store."""
    alive = []
    for link in links:
        if link.lost is None:
            try:
                backend.send_to(link.host, {"op": "finish"})
                alive.append(link)
            except HostLost as exc:
                backend.lose(link.host, str(exc))  # no agent is on duty any more
    for link in alive:
        try:
            link.report = backend.receive_from(link.host)
        except HostLost as exc:
            backend.lose(link.host, str(exc))


def _pool_total(links: list[WorkerLink]) -> dict[str, int]:
    total: dict[str, int] = {}
    for link in links:
        for key, value in link.report.get("sandboxes", {}).items():
            total[key] = (
                max(total.get(key, 0), value) if key == "capacity" else total.get(key, 0) + value
            )
    return total


def _totals(stores: list[Path]) -> tuple[int, int]:
    """Events and ``sandbox.violation`` events over every store of the run."""
    events = violations = 0
    for path in stores:
        with AuditStore(path, create=False, witness=False) as store:
            events += store.head()[0]
            violations += sum(1 for _ in store.read(type="sandbox.violation"))
    return events, violations
