"""The enforcer: before agents run, prove the sandbox holds on this host.

It takes detection's verdicts and then runs canary escapes in a fresh sandbox built from
the policy: writing outside the workspace, reading a file the policy does not grant,
connecting to a service on the host, ptrace, and more processes than the pids limit. In
``strict`` mode (the default) a missing required layer or any canary that escapes stops
everything with a message that says what to fix. In ``degraded`` mode the sandbox runs
with the layers the host has, and the report says which are missing.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from sentinel.errors import SandboxUnavailable
from sentinel.sandbox.capabilities import HostCapabilities, LayerReport, Verdict
from sentinel.sandbox.launch import host_capabilities
from sentinel.sandbox.policy import Layer, SandboxPolicy
from sentinel.sandbox.result import ExecResult
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import scratch_dir

CANARY_TIMEOUT_S: Final = 10.0
Mode = Literal["strict", "degraded"]


@dataclass(frozen=True)
class CanaryResult:
    """One escape attempt and whether it got out."""

    name: str
    attempt: str
    escaped: bool
    evidence: str


@dataclass(frozen=True)
class EnforcementReport:
    """What the enforcer found: layers in force, layers missing, canary outcomes."""

    mode: Mode
    active_layers: list[str]
    missing_layers: list[LayerReport]
    canaries: list[CanaryResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No canary escaped, and (strict) no required layer is missing."""
        escaped = any(canary.escaped for canary in self.canaries)
        return not escaped and (self.mode == "degraded" or not self.missing_layers)


@contextmanager
def _decoys() -> Iterator[Path]:
    with scratch_dir("sentinel-canary") as path:
        path.chmod(0o777)  # the write canary must be able to succeed if the sandbox leaked
        secret = path / "secret"
        secret.write_text(f"canary-secret-{uuid.uuid4().hex}\n")
        secret.chmod(0o644)
        yield path


@contextmanager
def _host_service() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"canary-reached-host\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


class Enforcer:
    """Checks a policy against this host before agents run.

    Args:
        policy: The policy agents will run under.
        mode: ``strict`` refuses to run on any gap; ``degraded`` runs with what exists.
        capabilities: Detection results (default: detected once per process).
    """

    def __init__(
        self,
        policy: SandboxPolicy,
        *,
        mode: Mode = "strict",
        capabilities: HostCapabilities | None = None,
    ) -> None:
        self.policy = policy
        self.mode = mode
        self.caps = capabilities or host_capabilities()

    def layers(self) -> tuple[list[Layer], list[LayerReport]]:
        """The layers to apply, and the required ones this host lacks."""
        missing = [
            self.caps.layer(layer.value)
            for layer in self.policy.required_layers
            if self.caps.layer(layer.value).verdict is Verdict.UNAVAILABLE
        ]
        names = {report.name for report in missing}
        return [layer for layer in self.policy.required_layers if layer.value not in names], missing

    def check(self) -> EnforcementReport:
        """Run the canaries in a fresh sandbox (about a second) and report."""
        active, missing = self.layers()
        report = EnforcementReport(self.mode, [layer.value for layer in active], missing)
        if missing and self.mode == "strict":
            return report
        with _decoys() as decoys, _host_service() as port:
            workspace = decoys / "workspace"
            canaries = self._canaries(decoys, port)
            for name, attempt, argv, escaped in canaries:
                result = run_once(
                    self.policy, argv, workspace=workspace, agent_id=f"canary-{name}",
                    layers=active, capabilities=self.caps, timeout=CANARY_TIMEOUT_S,
                )  # fmt: skip
                got_out, evidence = escaped(result)
                report.canaries.append(CanaryResult(name, attempt, got_out, evidence))
        return report

    def require(self) -> EnforcementReport:
        """:meth:`check`, raising in strict mode when anything is wrong.

        Raises:
            SandboxUnavailable: A required layer is missing, or a canary escaped.
        """
        report = self.check()
        if self.mode == "strict" and report.missing_layers:
            first = report.missing_layers[0]
            raise SandboxUnavailable(first.name, first.reason, first.fix)
        escaped = [canary for canary in report.canaries if canary.escaped]
        if escaped:
            names = ", ".join(f"{c.name} ({c.evidence})" for c in escaped)
            raise SandboxUnavailable(
                "enforcer", f"canary escapes succeeded: {names}", "see sentinel-run sandbox status"
            )
        return report

    def _canaries(
        self, decoys: Path, port: int
    ) -> list[tuple[str, str, list[str], Callable[[ExecResult], tuple[bool, str]]]]:
        secret = (decoys / "secret").read_text().strip()
        planted = decoys / "planted"
        too_many = self.policy.resources.pids + 16

        def wrote(_: ExecResult) -> tuple[bool, str]:
            return planted.exists(), f"{planted} {'was created' if planted.exists() else 'absent'}"

        def read(result: ExecResult) -> tuple[bool, str]:
            leaked = secret.encode() in result.stdout
            return leaked, "the secret leaked" if leaked else f"exit {result.exit_code}"

        def connected(result: ExecResult) -> tuple[bool, str]:
            reached = b"canary-reached-host" in result.stdout
            return reached, "reached the host service" if reached else f"exit {result.exit_code}"

        def traced(result: ExecResult) -> tuple[bool, str]:
            allowed = result.stdout.strip() == b"0"
            return allowed, f"ptrace returned {result.stdout.strip().decode() or result.exit_code}"

        def forked(result: ExecResult) -> tuple[bool, str]:
            unlimited = not result.pids_limited
            return (
                unlimited,
                "no fork was refused" if unlimited else "forks refused at the pids limit",
            )

        connect = (
            "import socket; "
            f"print(socket.create_connection(('127.0.0.1', {port}), timeout=3).recv(64).decode())"
        )
        ptrace = "import ctypes; print(ctypes.CDLL(None).ptrace(0, 0, 0, 0))"
        return [
            ("write-outside", f"write {planted}", ["sh", "-c", f"echo escaped > {planted}"], wrote),
            ("read-denied", f"read {decoys / 'secret'}", ["cat", str(decoys / "secret")], read),
            ("connect-host", f"connect 127.0.0.1:{port}", ["python3", "-c", connect], connected),
            ("ptrace", "ptrace(PTRACE_TRACEME)", ["python3", "-c", ptrace], traced),
            (
                "exceed-pids",
                f"{too_many} processes",
                ["sh", "-c", f"for i in $(seq {too_many}); do sleep 1 & done; wait"],
                forked,
            ),
        ]
