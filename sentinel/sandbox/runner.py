"""Run one command in a fresh sandbox (cold start), then tear the sandbox down.

See :mod:`sentinel.sandbox.launch` for what each layer does. A cold run pays for a new
set of namespaces, a new cgroup and (with Landlock) a shim process; a warm
:class:`~sentinel.sandbox.warm.Sandbox` pays for those once per agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sentinel.sandbox.bwrap_argv import SHIM_BINARY_MOUNT
from sentinel.sandbox.launch import SHIM_PYTHON, SandboxLaunch, compiled_filter
from sentinel.sandbox.launch_facts import LaunchFacts
from sentinel.sandbox.native_shim import shim_argv, shim_path
from sentinel.sandbox.policy_terms import Layer, PolicyView
from sentinel.sandbox.result import ExecResult, collect_violations
from sentinel.sandbox.shim.streams import feed, read_outputs

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities import HostCapabilities

EXIT_TIMEOUT_S: Final = 5.0


def _collect(
    process: subprocess.Popen[bytes],
    stdin: bytes | None,
    limit: int,
    timeout: float,
    on_stop: Callable[[], None],
) -> tuple[bytes, bytes, bool, bool]:
    """Feed stdin and read both outputs up to ``limit`` bytes, until they close or time runs out."""
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None  # noqa: S101
    feeder = feed(os.dup(process.stdin.fileno()), stdin) if stdin else None
    process.stdin.close()
    # The pidfd keeps the deadline in force for a command that closes its output and runs
    # on (without bwrap nothing else holds the pipes open until it exits).
    exited = os.pidfd_open(process.pid)
    try:
        out, err, truncated, timed_out = read_outputs(
            process.stdout.fileno(),
            process.stderr.fileno(),
            limit,
            time.monotonic() + timeout,
            exited_fd=exited,
        )
    finally:
        os.close(exited)
    if timed_out or truncated:
        on_stop()
    process.stdout.close()
    process.stderr.close()
    if feeder is not None:
        feeder.join(EXIT_TIMEOUT_S)
    return out, err, truncated, timed_out


class _Notifier:
    """The descriptors of a one-shot run whose shim records refused system calls."""

    def __init__(self, program: bytes) -> None:
        self.program_fd = os.memfd_create("sentinel-seccomp-notify", 0)  # inherited by the shim
        os.write(self.program_fd, program)
        os.lseek(self.program_fd, 0, os.SEEK_SET)
        self.read_fd, self.write_fd = os.pipe()
        os.set_inheritable(self.write_fd, True)
        os.set_blocking(self.read_fd, False)

    @property
    def fds(self) -> tuple[int, int]:
        """``(program, report)`` descriptors for the shim."""
        return self.program_fd, self.write_fd

    def started(self) -> None:
        """Drop the launcher's copies the shim now holds (so the report pipe can reach EOF)."""
        for fd in (self.program_fd, self.write_fd):
            os.close(fd)
        self.program_fd = self.write_fd = -1

    def denials(self) -> list[tuple[int, int]]:
        """``(pid, system call number)`` lines the shim reported."""
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.read_fd, 65536):
                data += chunk
        return [
            (int(pid), int(nr))
            for pid, nr in (line.split() for line in data.decode().splitlines() if line)
        ]

    def close(self) -> None:
        """Close what is still open."""
        for fd in (self.program_fd, self.write_fd, self.read_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def run_once(
    policy: PolicyView,
    argv: list[str],
    *,
    workspace: Path,
    agent_id: str = "agent",
    stdin: bytes | None = None,
    timeout: float | None = None,
    layers: Collection[Layer | str] | None = None,
    capabilities: HostCapabilities | LaunchFacts | None = None,
    degraded: bool = False,
    python_shim: bool = False,
) -> ExecResult:
    """Run ``argv`` in a new sandbox built from ``policy`` and tear it down.

    Args:
        policy: What the command may do (a validated ``SandboxPolicy``, or its compiled
            form from :mod:`sentinel.sandbox.launch_cache`).
        argv: The command.
        workspace: The agent's workspace (created if missing; the only writable place).
        agent_id: Names the cgroup and attributes violations.
        stdin: Bytes fed to the command.
        timeout: Wall-clock limit in seconds (default: the policy's).
        layers: The layers to apply (default: the policy's required layers). Fewer layers
            only for tests and the layer matrix.
        capabilities: Detection results (default: detected once per process), or the
            launch's part of them (:mod:`sentinel.sandbox.launch_cache` keeps those).
        degraded: Run without the layers this host lacks, warning on every call
            (:class:`~sentinel.errors.SandboxDegradedWarning`), instead of refusing.
        python_shim: Apply Landlock with the Python reference shim instead of the native
            one (tests pin both to the same decisions).

    Returns:
        Exit status, output (capped at the policy's limit), accounting and violations.

    Raises:
        SandboxUnavailable: A layer to apply is unavailable on this host.
        SandboxError: The sandbox could not be built or torn down.
    """
    launch = SandboxLaunch(policy, workspace, agent_id, layers, capabilities, degraded=degraded)
    command = list(argv)
    spec = launch.landlock_spec()
    notify = None
    if spec is not None:
        spec.update(cwd=str(launch.workspace), argv=command)
        if python_shim:
            command = [
                SHIM_PYTHON,
                "-I",
                "-S",
                f"{launch.shim_dir}/landlock_shim.py",
                json.dumps(spec),
            ]
        else:
            executable = SHIM_BINARY_MOUNT if launch.uses(Layer.BWRAP) else str(shim_path())
            if launch.uses(Layer.SECCOMP) and launch.uses(Layer.BWRAP):
                notify = _Notifier(compiled_filter(tuple(policy.syscalls.extra_deny), notify=True))
            command = shim_argv(executable, spec, command, notify=notify.fds if notify else None)
    limit = policy.resources.max_output_bytes
    wall = timeout if timeout is not None else policy.resources.wall_timeout_s
    started = time.monotonic()
    try:
        process = launch.spawn(
            command, bwrap_seccomp=notify is None, extra_fds=notify.fds if notify else ()
        )
        if notify is not None:
            notify.started()
        out, err, truncated, timed_out = _collect(process, stdin, limit, wall, launch.stop)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stats = launch.stats()
        dropped = launch.dropped_packets()
        denied = notify.denials() if notify is not None else []
    finally:
        launch.teardown()
        if notify is not None:
            notify.close()
    killed_by = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    violations = collect_violations(
        oom_kills=stats.oom_kills,
        pids_limit_hits=stats.pids_limit_hits,
        timed_out=timed_out,
        truncated=truncated,
        killed_by=killed_by,
        timeout=wall,
        limit=limit,
        dropped_packets=dropped,
        denied_syscalls=denied,
    )
    duration = time.monotonic() - started
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return ExecResult(
        exit_code=exit_code,
        signal=killed_by,
        stdout=out,
        stderr=err,
        truncated=truncated,
        timed_out=timed_out,
        oom_killed=stats.oom_kills > 0,
        pids_limited=stats.pids_limit_hits > 0,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=usage.ru_maxrss * 1024,
        duration_s=duration,
        violations=violations,
        layers=launch.in_force,
        cpu_throttled_s=stats.cpu_throttled_s,
        uid=launch.uid,
    )
