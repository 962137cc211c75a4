"""A warm, long-lived per-agent sandbox: one set of namespaces and one cgroup, many commands.

The sandbox's process is a small supervisor (``shim/supervisor.py``) that confines itself
with Landlock and then, for every request, forks and executes one command, so a command
costs about a fork and an exec instead of a namespace build. The cgroup holds the
supervisor and every command: the limits are per agent.

A sandbox's failure is the failure of the command that was running, never the caller's:
if the supervisor dies (killed by the command, or at the memory limit), stops answering
(stopped with SIGSTOP, hung past the command's timeout) or writes anything but the reply
to the request it was sent, the command's result says so (killed, timed out, and a
``runner`` violation naming what happened), everything in the sandbox is killed, and the
next command starts a fresh sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from sentinel.errors import SandboxDegradedWarning, SandboxError
from sentinel.sandbox.agent_uid import lease
from sentinel.sandbox.capabilities import HostCapabilities
from sentinel.sandbox.cgroup import CgroupStats
from sentinel.sandbox.disk_quota import release
from sentinel.sandbox.launch import SHIM_PYTHON, SandboxLaunch, workspace_owner
from sentinel.sandbox.policy import Layer, SandboxPolicy
from sentinel.sandbox.result import ExecResult, Violation, collect_violations
from sentinel.sandbox.seccomp_filter import AUDIT_ARCH_X86_64, build_filter
from sentinel.sandbox.syscall_table import NUMBERS

READY_TIMEOUT_S: Final = 10.0
"""How long a new sandbox may take to report ready (bwrap + Python start-up)."""
REPLY_GRACE_S: Final = 3.0
"""Added to a command's timeout while waiting for the supervisor's reply (it kills and
reaps what is left of the command, then replies: milliseconds, unless it is stopped)."""
GUARD_NUMBERS: Final = {
    name: NUMBERS[name]
    for name in (
        "kill", "rt_sigqueueinfo", "tgkill", "rt_tgsigqueueinfo", "pidfd_open", "tkill",
        "pidfd_send_signal", "fcntl", "ioctl", "seccomp",
    )
}  # fmt: skip
"""The system calls the supervisor's signal guard reads (see ``shim/signal_guard.py``)."""
REPLY_OVERHEAD_BYTES: Final = 1 << 16
"""A reply's JSON beyond its base64 outputs; a longer line is not a reply."""


class _SupervisorLost(Exception):  # noqa: N818 - an internal signal, never raised to callers
    """The supervisor did not answer the request it was sent (the message says how)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class _Channel:
    """Reads the supervisor's reply lines from its stdout under a deadline and a size cap.

    Unlike a buffered ``readline``, a half-written line (a supervisor stopped mid-write)
    never blocks past the deadline.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def line(self, deadline: float, max_bytes: int) -> bytes:
        """The next line (without its newline).

        Raises:
            _SupervisorLost: End of file, the deadline, or a line longer than ``max_bytes``.
        """
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > max_bytes:
                raise _SupervisorLost("protocol", f"a line of more than {max_bytes} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _SupervisorLost("unresponsive", "no reply before the deadline")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 1 << 20)
            except OSError as exc:
                raise _SupervisorLost("died", f"its channel failed: {exc.strerror}") from None
            if not chunk:
                raise _SupervisorLost("died", "it exited")
            self.buffer += chunk


def _reply(line: bytes, token: str) -> dict[str, Any]:
    """The supervisor's reply to request ``token``, checked for shape.

    Raises:
        _SupervisorLost: Not JSON, not the reply to ``token``, or fields of the wrong type.
    """
    try:
        reply = json.loads(line)
    except ValueError:
        raise _SupervisorLost("protocol", f"not JSON: {line[:80]!r}") from None
    if not isinstance(reply, dict) or reply.get("id") != token:
        raise _SupervisorLost("protocol", f"not the reply to request {token}: {line[:80]!r}")
    if reply.get("error"):
        raise _SupervisorLost("error", str(reply["error"])[:500])
    expected: dict[str, type | tuple[type, ...]] = {
        "exit_code": (int, type(None)), "signal": (int, type(None)), "stdout": str,
        "stderr": str, "truncated": bool, "timed_out": bool, "cpu_s": (int, float),
        "max_rss_bytes": int, "denied_syscalls": list, "leftovers": int,
    }  # fmt: skip
    for name, kind in expected.items():
        if not isinstance(reply.get(name), kind):
            raise _SupervisorLost("protocol", f"field {name!r} missing or mistyped")
    return reply


class Sandbox:
    """A per-agent sandbox that stays up between commands.

    Args:
        policy: What the sandbox enforces.
        agent_id: The agent (names the cgroup, attributes violations).
        workspace: The agent's workspace.
        layers: The layers to apply (default: the policy's required layers).
        capabilities: Detection results (default: detected once per process).
        guard_supervisor: With the seccomp layer, the supervisor refuses every command the
            means to signal it (``shim/signal_guard.py``). False only for the breakout
            suite's negative control.

    Raises:
        SandboxUnavailable: A layer to apply is unavailable on this host.
    """

    def __init__(
        self,
        policy: SandboxPolicy,
        agent_id: str,
        *,
        workspace: Path,
        layers: Collection[Layer | str] | None = None,
        capabilities: HostCapabilities | None = None,
        degraded: bool = False,
        guard_supervisor: bool = True,
    ) -> None:
        self.policy = policy
        self._guard_supervisor = guard_supervisor
        self._degraded = degraded
        self.agent_id = agent_id
        self._workspace = workspace
        self._layers = layers
        self._capabilities = capabilities
        self._launch: SandboxLaunch | None = None
        self._lock = threading.Lock()
        self._baseline = CgroupStats(0, 0, None)
        self._dropped_baseline = 0
        self._closed = False
        self._channel: _Channel | None = None
        self.starts = 0
        """How many times a sandbox was built (1 unless the supervisor died)."""
        # One agent uid for the sandbox's life, across rebuilds (see agent_uid).
        self._uid_lease = (
            lease(agent_id, workspace_owner(workspace.resolve())) if os.geteuid() == 0 else None
        )
        with warnings.catch_warnings():  # fail early; the warnings come with each command
            warnings.simplefilter("ignore", SandboxDegradedWarning)
            checked = SandboxLaunch(
                policy, workspace, agent_id, layers, capabilities, degraded=degraded,
                uid_lease=self._uid_lease,
            )  # fmt: skip
        self._mounted = checked.mounted  # the quota file system this sandbox releases
        self.uid = checked.uid
        """The uid the sandbox's processes run as."""
        self.layers: tuple[str, ...] = tuple(layer.value for layer in checked.active)
        """The active layers (fixed at construction: detection does not change under a sandbox)."""

    def _new_launch(self) -> SandboxLaunch:
        return SandboxLaunch(
            self.policy,
            self._workspace,
            self.agent_id,
            self._layers,
            self._capabilities,
            degraded=self._degraded,
            uid_lease=self._uid_lease,
        )

    def _start(self) -> SandboxLaunch:
        launch = self._new_launch()
        notifying = launch.uses(Layer.SECCOMP) and launch.uses(Layer.BWRAP)
        program = (
            build_filter(tuple(self.policy.syscalls.extra_deny), notify=True) if notifying else None
        )
        spec = {
            "landlock": launch.landlock_spec(),
            "seccomp": base64.b64encode(program).decode() if program is not None else None,
            "signal_guard": (
                {"arch": AUDIT_ARCH_X86_64, "numbers": GUARD_NUMBERS}
                if self._guard_supervisor and launch.uses(Layer.SECCOMP)
                else None
            ),
            "cwd": str(launch.workspace),
            "env": launch.env,
            "pid_namespace": launch.uses(Layer.BWRAP),
        }
        process = launch.spawn(
            [SHIM_PYTHON, "-I", "-S", f"{launch.shim_dir}/supervisor.py", json.dumps(spec)],
            bwrap_seccomp=not notifying,
        )
        assert process.stdout is not None  # noqa: S101 - spawned with pipes
        self._channel = _Channel(process.stdout.fileno())
        try:
            reply = json.loads(
                self._channel.line(time.monotonic() + READY_TIMEOUT_S, REPLY_OVERHEAD_BYTES)
            )
        except (_SupervisorLost, ValueError):
            reply = None
        if not isinstance(reply, dict) or not reply.get("ready"):
            launch.stop()
            stderr = process.stderr.read() if process.stderr is not None else b""
            launch.teardown()
            detail = (
                (reply or {}).get("error") or stderr.decode(errors="replace").strip() or "no reply"
            )
            raise SandboxError(f"the sandbox of {self.agent_id} did not start: {detail}")
        self.starts += 1
        self._baseline = launch.stats()
        self._dropped_baseline = 0
        return launch

    def run(
        self, argv: list[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> ExecResult:
        """Run one command in the sandbox and wait for it.

        Raises:
            SandboxError: The sandbox could not be (re)started, or its supervisor failed.
            SandboxError: Also when the sandbox was closed.
        """
        if not argv:
            raise SandboxError("no command given")
        with self._lock:
            if self._closed:
                raise SandboxError(f"the sandbox of {self.agent_id} is closed")
            self._warn_if_degraded()
            if (
                self._launch is None
                or self._launch.process is None
                or self._launch.process.poll() is not None
            ):
                if self._launch is not None:
                    self._launch.teardown()
                self._launch = self._start()
            return self._request(self._launch, argv, stdin, timeout)

    def _warn_if_degraded(self) -> None:
        # The first launch warns itself; later commands on the same sandbox warn here.
        if self._degraded and self._launch is not None:
            missing = set(self.policy.required_layers) - set(self._launch.active)
            if missing:
                names = ", ".join(sorted(layer.value for layer in missing))
                warnings.warn(
                    f"sandbox of {self.agent_id} runs DEGRADED, without: {names}",
                    SandboxDegradedWarning,
                    stacklevel=3,
                )

    async def run_async(
        self, argv: list[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> ExecResult:
        """:meth:`run` for async code (the command runs while the event loop goes on)."""
        return await asyncio.to_thread(self.run, argv, stdin=stdin, timeout=timeout)

    def _request(
        self, launch: SandboxLaunch, argv: list[str], stdin: bytes | None, timeout: float | None
    ) -> ExecResult:
        process = launch.process
        assert process is not None and process.stdin is not None and self._channel is not None  # noqa: S101
        wall = timeout if timeout is not None else self.policy.resources.wall_timeout_s
        limit = self.policy.resources.max_output_bytes
        token = os.urandom(8).hex()
        request = {
            "id": token,
            "argv": argv,
            "stdin": base64.b64encode(stdin or b"").decode(),
            "timeout": wall,
            "limit": limit,
        }
        started = time.monotonic()
        lost: _SupervisorLost | None = None
        try:
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                process.stdin.flush()
            except OSError as exc:
                raise _SupervisorLost("died", f"its channel failed: {exc.strerror}") from None
            line = self._channel.line(
                started + wall + REPLY_GRACE_S, 2 * limit + REPLY_OVERHEAD_BYTES
            )
            reply = _reply(line, token)
        except _SupervisorLost as exc:
            lost = exc
            # Kill everything of this sandbox now: the command must not outlive its result.
            launch.stop()
            reply = {"exit_code": None, "signal": signal.SIGKILL, "stdout": "", "stderr": "",
                     "truncated": False, "timed_out": exc.kind == "unresponsive", "cpu_s": 0.0,
                     "max_rss_bytes": 0, "denied_syscalls": [], "leftovers": 0}  # fmt: skip
        duration = time.monotonic() - started
        throttled_before = self._baseline.cpu_throttled_s
        stats = launch.stats()
        oom = stats.oom_kills - self._baseline.oom_kills
        pids = stats.pids_limit_hits - self._baseline.pids_limit_hits
        self._baseline = stats
        dropped_total = launch.dropped_packets()
        dropped, self._dropped_baseline = dropped_total - self._dropped_baseline, dropped_total
        violations = collect_violations(
            oom_kills=oom,
            pids_limit_hits=pids,
            timed_out=reply["timed_out"],
            truncated=reply["truncated"],
            killed_by=reply["signal"],
            timeout=wall,
            limit=limit,
            dropped_packets=dropped,
            denied_syscalls=reply["denied_syscalls"],
        )
        if lost is not None:
            violations += (_lost_violation(lost, oom),)
            launch.teardown()
            self._launch = None
            self._channel = None
        return ExecResult(
            exit_code=reply["exit_code"],
            signal=reply["signal"],
            stdout=base64.b64decode(reply["stdout"]),
            stderr=base64.b64decode(reply["stderr"]),
            truncated=reply["truncated"],
            timed_out=reply["timed_out"],
            oom_killed=oom > 0,
            pids_limited=pids > 0,
            cpu_s=reply["cpu_s"],
            max_rss_bytes=reply["max_rss_bytes"],
            duration_s=duration,
            violations=violations,
            layers=launch.in_force,
            cpu_throttled_s=max(0.0, stats.cpu_throttled_s - throttled_before),
            uid=launch.uid,
        )

    def close(self, *, release_workspace: bool = True) -> None:
        """Kill everything in the sandbox and remove its cgroup. Idempotent.

        Args:
            release_workspace: Also unmount the workspace's quota file system if this
                sandbox mounted it (False: the caller copies the workspace first, then
                calls :func:`~sentinel.sandbox.disk_quota.release`).

        Raises:
            SandboxError: The cgroup or the file system could not be removed.
        """
        with self._lock:
            self._closed = True
            try:
                if self._launch is not None:
                    process = self._launch.process
                    if process is not None and process.stdin is not None:
                        with contextlib.suppress(OSError):
                            process.stdin.close()  # the supervisor ends at end of input
                    launch, self._launch = self._launch, None
                    launch.teardown()
                if release_workspace and self._mounted:
                    self._mounted = False
                    release(self._workspace.resolve())
            finally:
                if self._uid_lease is not None:
                    self._uid_lease.release()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def pid(self) -> int | None:
        """The pid of the sandbox's outermost process, while it runs."""
        return self._launch.process.pid if self._launch and self._launch.process else None


LOST_BECAUSE: Final = {
    "died": "the sandbox's supervisor died during the command",
    "unresponsive": "the sandbox's supervisor stopped answering (stopped or hung)",
    "protocol": "the sandbox's supervisor channel carried something other than the reply",
    "error": "the sandbox's supervisor failed",
}
"""How each way of losing the supervisor is described in the command's violation."""


def _lost_violation(lost: _SupervisorLost, oom: int) -> Violation:
    """The ``runner`` violation of a command whose supervisor was lost."""
    why = "at the memory limit" if lost.kind == "died" and oom else lost.detail
    return Violation(
        "runner",
        f"supervisor_{lost.kind}",
        f"{LOST_BECAUSE[lost.kind]} ({why}); everything in the sandbox was killed and the "
        "next command starts a fresh one",
    )
