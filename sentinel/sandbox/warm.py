"""A warm, long-lived per-agent sandbox: one set of namespaces and one cgroup, many commands.

The sandbox's process is a small supervisor (``shim/supervisor.py``) that confines itself
with Landlock and then, for every request, forks and executes one command, so a command
costs about a fork and an exec instead of a namespace build. The cgroup holds the
supervisor and every command: the limits are per agent. If the supervisor dies (killed at
the memory limit, say), the next command starts a fresh sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import select
import threading
import time
import warnings
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from sentinel.errors import SandboxDegradedWarning, SandboxError
from sentinel.sandbox.capabilities import HostCapabilities
from sentinel.sandbox.cgroup import CgroupStats
from sentinel.sandbox.disk_quota import release
from sentinel.sandbox.launch import SHIM_PYTHON, SandboxLaunch
from sentinel.sandbox.policy import Layer, SandboxPolicy
from sentinel.sandbox.result import ExecResult, collect_violations
from sentinel.sandbox.seccomp_filter import build_filter

READY_TIMEOUT_S: Final = 10.0
"""How long a new sandbox may take to report ready (bwrap + Python start-up)."""
REPLY_GRACE_S: Final = 5.0
"""Added to a command's timeout while waiting for the supervisor's reply."""


class Sandbox:
    """A per-agent sandbox that stays up between commands.

    Args:
        policy: What the sandbox enforces.
        agent_id: The agent (names the cgroup, attributes violations).
        workspace: The agent's workspace.
        layers: The layers to apply (default: the policy's required layers).
        capabilities: Detection results (default: detected once per process).

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
    ) -> None:
        self.policy = policy
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
        self.starts = 0
        """How many times a sandbox was built (1 unless the supervisor died)."""
        with warnings.catch_warnings():  # fail early; the warnings come with each command
            warnings.simplefilter("ignore", SandboxDegradedWarning)
            checked = SandboxLaunch(
                policy, workspace, agent_id, layers, capabilities, degraded=degraded
            )
        self._mounted = checked.mounted  # the quota file system this sandbox releases
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
        }
        process = launch.spawn(
            [SHIM_PYTHON, "-I", "-S", f"{launch.shim_dir}/supervisor.py", json.dumps(spec)],
            bwrap_seccomp=not notifying,
        )
        assert process.stdout is not None  # noqa: S101 - spawned with pipes
        reply = self._read_line(process.stdout, READY_TIMEOUT_S)
        if reply is None or not reply.get("ready"):
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

    @staticmethod
    def _read_line(stream: IO[bytes], timeout: float) -> dict[str, Any] | None:
        ready, _, _ = select.select([stream], [], [], timeout)
        if not ready:
            return None
        line = stream.readline()
        if not line:
            return None
        reply: dict[str, Any] = json.loads(line)
        return reply

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
        assert process is not None and process.stdin is not None and process.stdout is not None  # noqa: S101
        wall = timeout if timeout is not None else self.policy.resources.wall_timeout_s
        limit = self.policy.resources.max_output_bytes
        request = {
            "argv": argv,
            "stdin": base64.b64encode(stdin or b"").decode(),
            "timeout": wall,
            "limit": limit,
            "cwd": str(launch.workspace),
            "env": launch.env,
        }
        started = time.monotonic()
        try:
            process.stdin.write((json.dumps(request) + "\n").encode())
            process.stdin.flush()
            reply = self._read_line(process.stdout, wall + REPLY_GRACE_S)
        except OSError:
            reply = None
        duration = time.monotonic() - started
        throttled_before = self._baseline.cpu_throttled_s
        stats = launch.stats()
        oom = stats.oom_kills - self._baseline.oom_kills
        pids = stats.pids_limit_hits - self._baseline.pids_limit_hits
        self._baseline = stats
        dropped_total = launch.dropped_packets()
        dropped, self._dropped_baseline = dropped_total - self._dropped_baseline, dropped_total
        if reply is None or reply.get("error"):
            # The supervisor died (most often: killed at the memory limit with the command).
            launch.teardown()
            self._launch = None
            if reply is None and not oom:
                raise SandboxError(
                    f"the sandbox of {self.agent_id} stopped answering; it will be rebuilt"
                )
            reply = {"exit_code": None, "signal": 9, "stdout": "", "stderr": "", "truncated": False,
                     "timed_out": False, "cpu_s": 0.0, "max_rss_bytes": 0}  # fmt: skip
        violations = collect_violations(
            oom_kills=oom,
            pids_limit_hits=pids,
            timed_out=reply["timed_out"],
            truncated=reply["truncated"],
            killed_by=reply["signal"],
            timeout=wall,
            limit=limit,
            dropped_packets=dropped,
            denied_syscalls=reply.get("denied_syscalls", []),
        )
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
            if self._launch is not None:
                process = self._launch.process
                if process is not None and process.stdin is not None:
                    with contextlib.suppress(OSError):
                        process.stdin.close()  # the supervisor ends at end of input
                self._launch.teardown()
                self._launch = None
            if release_workspace and self._mounted:
                self._mounted = False
                release(self._workspace.resolve())

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
