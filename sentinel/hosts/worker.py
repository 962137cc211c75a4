"""A worker host: its agents' gateway answers, sandboxes and tool work, and its own chain.

Started by the coordinator as ``python -m sentinel.hosts.enter NS --host N --listen ADDR``
(inside network namespace ``NS``). It listens on ``ADDR`` (an ephemeral port, printed as
``listening PORT`` on stdout), serves exactly one coordinator connection and exits when it
closes. The first frame (``open``) carries the run's options and this host's store path;
the worker opens its own :class:`~sentinel.audit.AuditStore` (own log id, signing key and
checkpoints; Lamport node ``hostN``), its own gateway writing into that store, and its own
sandbox pool (:class:`~sentinel.agents.backends.LiveBackend`).

Every reply is sent after the events of the request are committed to the host's store, so
what the coordinator acknowledged is durable. Each reply carries the host's Lamport clock
and committed size; each request carries the coordinator's clock, which the host observes
first (so the merged view orders cause before effect across hosts).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any, Final

from sentinel.agents.backends import (
    LiveBackend,
    SimClock,
    gateway_persona,
    gateway_settings,
    make_run_dir,
    remove_run_dir,
)
from sentinel.agents.options import RunOptions, company_for
from sentinel.agents.redteam import attack, attack_corpus
from sentinel.audit import AuditStore, NewEvent
from sentinel.config import load_company
from sentinel.errors import HostLost, SentinelError
from sentinel.gateway import Gateway
from sentinel.hosts import wire
from sentinel.sandbox import leftovers
from sentinel.sandbox.policy import SandboxPolicy

COORDINATOR: Final = "the coordinator"
ACCEPT_TIMEOUT_S: Final = 60.0
"""Ours: a coordinator that has not connected within a minute is gone."""


class WorkerHost:
    """One host's gateway, sandboxes and store, driven by the coordinator's frames."""

    def __init__(self, host: int, opened: dict[str, Any]) -> None:
        self.host = host
        self.options = RunOptions.from_record(opened["options"])
        company = company_for(load_company(self.options.config), self.options)
        policy_file = self.options.config / "policies" / "agent.toml"
        policy = SandboxPolicy.from_toml(policy_file) if policy_file.is_file() else SandboxPolicy()
        self.clock = SimClock(company.simulation.time_scale)
        self.store = AuditStore(Path(opened["store"]), node=f"host{host}")
        self.run_dir = make_run_dir()
        self.gateway = Gateway(
            gateway_settings(company, self.options.provider),
            personas=[gateway_persona(p) for p in company.personas],
            audit=self.store,
            ledger_path=":memory:",
            clock=self.clock,
        )
        self.backend = LiveBackend(
            self.gateway,
            policy,
            self.run_dir,
            self.options.provider,
            pool_capacity=self.options.sandboxes,
        )
        self.corpus = {scenario.id: scenario for scenario in attack_corpus()}
        self._finished = False

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """Do one request; the reply (without the clock, added by :meth:`reply`)."""
        self.store.observe(int(message.get("lamport", 0)))
        op = message["op"]
        tick = int(message.get("tick", 0))
        self.clock.tick = max(self.clock.tick, tick)
        events: list[NewEvent] = []
        reply: dict[str, Any]
        if op == "start":
            for agent_id in message["agents"]:
                self.backend.start(agent_id)
            reply = {}
        elif op == "stop":
            for agent_id in message["agents"]:
                self.backend.stop(agent_id)
            reply = {}
        elif op == "decide":
            requests = [wire.request_from_wire(r) for r in message["requests"]]
            answers = self.backend.decide(tick, requests)
            reply = {"answers": [wire.answer_to_wire(a) for a in answers]}
        elif op == "execute":
            outcome = self.backend.execute(
                tick, message["agent"], message["command"], events, tool=message["tool"]
            )
            reply = {"outcome": outcome.__dict__}
        elif op == "attack":
            planned = attack(self.corpus[message["scenario"]], message["nonce"])
            verdict = self.backend.attack(tick, message["agent"], planned, events)
            reply = {"outcome": verdict.__dict__}
        else:
            raise HostLost(f"{COORDINATOR}: unknown op {op!r}")
        if events:
            self.store.append_batch(events)  # committed before the reply: acknowledged = durable
        return reply

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with this host's Lamport clock and committed size."""
        return {**body, "lamport": self.store.clock.value, "committed": self.store.head()[0]}

    def finish(self) -> dict[str, Any]:
        """Stop every sandbox, checkpoint and close the store; this host's report."""
        self._finished = True
        self.backend.close()
        self.gateway.close()
        if self.store.head()[0]:  # a host whose agents had nothing to do yet holds no event
            self.store.checkpoint()
        return {"sandboxes": self.backend.pool_report()}

    def close(self) -> None:
        """Release everything (after :meth:`finish`, or when the coordinator vanished)."""
        try:
            if not self._finished:
                self.backend.close()
                self.gateway.close()
        finally:
            try:
                remove_run_dir(self.run_dir)
            finally:
                self.store.close()


def serve(host: int, listener: socket.socket) -> None:
    """Serve one coordinator connection until ``finish`` or until it closes."""
    listener.settimeout(ACCEPT_TIMEOUT_S)
    conn, _ = listener.accept()
    listener.close()
    conn.settimeout(None)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    opened = wire.receive(conn, COORDINATOR)
    worker = WorkerHost(host, opened)
    try:
        wire.send(
            conn,
            worker.reply({"run_dir": str(worker.run_dir), "log_id": worker.store.meta()["log_id"]}),
            COORDINATOR,
        )
        while True:
            try:
                message = wire.receive(conn, COORDINATOR)
            except HostLost:
                return  # the coordinator is gone: clean up and exit
            if message.get("op") == "finish":
                report = worker.finish()
                wire.send(conn, worker.reply(report), COORDINATOR)
                return
            try:
                body = worker.handle(message)
            except SentinelError as exc:  # e.g. a sandbox layer missing: the run must stop
                body = {"error": f"{type(exc).__name__}: {exc}"}
            wire.send(conn, worker.reply(body), COORDINATOR)
    finally:
        worker.close()
        conn.close()


def main(argv: list[str] | None = None) -> None:
    """Listen, announce the port on stdout, serve the coordinator."""
    parser = argparse.ArgumentParser(description="A Sentinel worker host (started by run --hosts).")
    parser.add_argument("--host", type=int, required=True)
    parser.add_argument("--listen", required=True)
    args = parser.parse_args(argv)
    with leftovers.exit_on_signals():
        listener = socket.create_server((args.listen, 0))
        print(f"listening {listener.getsockname()[1]}", flush=True)
        serve(args.host, listener)


if __name__ == "__main__":
    main(sys.argv[1:])
