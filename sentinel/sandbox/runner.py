"""Run one command in a fresh sandbox (cold start): every layer the policy requires.

Layer by layer (each can be switched off for the layer matrix and negative controls):

- ``bwrap``: namespaces and a minimal file-system view (see :mod:`bwrap_argv`);
- ``netns``: a network namespace of its own, loopback only (bwrap ``--unshare-net``, or
  ``unshare(CLONE_NEWNET)`` when bwrap is off);
- ``seccomp``: the deny filter, installed by bwrap just before exec (or by the launcher
  when bwrap is off);
- ``landlock``: applied by a shim inside the sandbox, after bwrap's mounts, right before
  the command executes;
- ``cgroups``: a per-agent group with memory, pids and cpu limits, joined before bwrap
  starts and killed as a whole at the end.

Agent code never runs as root: a root launcher drops to the sandbox uid before executing
bwrap. Nothing fails open: a required layer the host lacks raises
:class:`~sentinel.errors.SandboxUnavailable` before anything runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError, SandboxUnavailable
from sentinel.sandbox import kernel_api
from sentinel.sandbox.bwrap_argv import SHIM_MOUNT, bwrap_argv
from sentinel.sandbox.capabilities import HostCapabilities, Verdict, detect
from sentinel.sandbox.cgroup import AgentCgroup, CgroupStats
from sentinel.sandbox.policy import Layer, SandboxPolicy, resolve
from sentinel.sandbox.result import ExecResult, Violation
from sentinel.sandbox.seccomp_filter import build_filter
from sentinel.sandbox.workspace import prepare_workspace

SANDBOX_UID: Final = 65534
"""The uid (and gid) agent code runs as when the launcher is root: ``nobody``."""
SHIM_DIR: Final = Path(__file__).resolve().parent / "shim"
SHIM_PYTHON: Final = "/usr/bin/python3"
"""The interpreter that runs the Landlock shim inside the sandbox (under the /usr bind)."""
READ_CHUNK: Final = 65536
EXIT_TIMEOUT_S: Final = 5.0

_capabilities: HostCapabilities | None = None


def host_capabilities() -> HostCapabilities:
    """Detection results for this host, computed once per process."""
    global _capabilities  # noqa: PLW0603 - one detection per process, as the enforcer needs
    if _capabilities is None:
        _capabilities = detect()
    return _capabilities


def _require(layers: Collection[Layer], caps: HostCapabilities) -> None:
    for layer in layers:
        report = caps.layer(layer.value)
        if report.verdict is Verdict.UNAVAILABLE:
            raise SandboxUnavailable(layer.value, report.reason, report.fix)


def _seccomp_memfd(program: bytes) -> int:
    fd = os.memfd_create("sentinel-seccomp", 0)  # no CLOEXEC: bwrap must inherit it
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _load_seccomp(program: bytes) -> None:
    """Install the filter on the calling process (launcher side, when bwrap is off)."""
    import ctypes  # noqa: PLC0415 - only in the forked child, before exec

    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = kernel_api._SockFprog(
        count, ctypes.cast(buffer, ctypes.POINTER(kernel_api._SockFilter))
    )
    number = kernel_api.syscall_number("seccomp")
    if kernel_api.set_no_new_privs() or number is None:
        raise OSError("cannot set no_new_privs")
    if (
        kernel_api._libc.syscall(number, kernel_api.SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog))
        < 0
    ):
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


def _preexec(
    cgroup: AgentCgroup | None,
    own_netns: bool,
    drop_to: tuple[int, int] | None,
    seccomp: bytes | None,
) -> Callable[[], None]:
    def setup() -> None:
        # Order matters: join the cgroup and enter the network namespace while still root,
        # then drop privileges for good, then (bwrap off) install the seccomp filter.
        if cgroup is not None:
            for procs in cgroup.procs_files():
                with open(procs, "w") as handle:  # noqa: PTH123 - no pathlib in a pre-exec hook
                    handle.write(str(os.getpid()))
        if own_netns:
            flags = kernel_api.CLONE_NEWNET | (0 if os.geteuid() == 0 else kernel_api.CLONE_NEWUSER)
            err = kernel_api.unshare(flags)
            if err:
                raise OSError(err, "unshare(CLONE_NEWNET) failed")
        if drop_to is not None:
            os.setgroups([])
            os.setresgid(drop_to[1], drop_to[1], drop_to[1])
            os.setresuid(drop_to[0], drop_to[0], drop_to[0])
        if seccomp is not None:
            _load_seccomp(seccomp)

    return setup


def _feed(process: subprocess.Popen[bytes], data: bytes | None) -> threading.Thread | None:
    """Write stdin from a thread (a command may not read it all; that must not block us)."""
    assert process.stdin is not None  # noqa: S101 - started with stdin=PIPE
    stream = process.stdin
    if not data:
        stream.close()
        return None

    def write() -> None:
        with contextlib.suppress(OSError):
            stream.write(data)
        with contextlib.suppress(OSError):
            stream.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _collect(
    process: subprocess.Popen[bytes],
    stdin: bytes | None,
    limit: int,
    timeout: float,
    on_stop: Callable[[], None],
) -> tuple[bytes, bytes, bool, bool]:
    """Read both outputs up to ``limit`` bytes in total, until they close or time runs out."""
    assert process.stdout is not None and process.stderr is not None  # noqa: S101
    feeder = _feed(process, stdin)
    out, err = bytearray(), bytearray()
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, out)
    selector.register(process.stderr, selectors.EVENT_READ, err)
    deadline = time.monotonic() + timeout
    truncated = timed_out = False
    while selector.get_map() and not truncated:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(remaining):
            chunk = os.read(key.fd, READ_CHUNK)
            if not chunk:
                selector.unregister(key.fileobj)
            key.data.extend(chunk)
            truncated = len(out) + len(err) > limit
    if timed_out or truncated:
        on_stop()
    selector.close()
    process.stdout.close()
    process.stderr.close()
    if feeder is not None:
        feeder.join(EXIT_TIMEOUT_S)
    return bytes(out[:limit]), bytes(err[: max(0, limit - len(out))]), truncated, timed_out


def _violations(
    stats: CgroupStats,
    *,
    timed_out: bool,
    truncated: bool,
    killed_by: int | None,
    timeout: float,
    limit: int,
) -> tuple[Violation, ...]:
    found = []
    if stats.oom_kills:
        found.append(
            Violation(
                "cgroups", "oom_kill", f"{stats.oom_kills} process(es) killed at the memory limit"
            )
        )
    if stats.pids_limit_hits:
        found.append(
            Violation(
                "cgroups",
                "pids_limit",
                f"{stats.pids_limit_hits} fork(s) refused at the pids limit",
            )
        )
    if timed_out:
        found.append(Violation("runner", "timeout", f"killed after {timeout} s"))
    if truncated:
        found.append(
            Violation(
                "runner", "output_limit", f"output beyond {limit} bytes; the command was killed"
            )
        )
    if killed_by == signal.SIGSYS:
        found.append(
            Violation("seccomp", "killed", "killed by the seccomp filter (foreign system-call ABI)")
        )
    return tuple(found)


def _command(
    policy: SandboxPolicy,
    argv: list[str],
    workspace: Path,
    active: Collection[Layer],
    caps: HostCapabilities,
    env: dict[str, str],
    seccomp_fd: int | None,
) -> list[str]:
    """The full command line: bwrap (if active), the Landlock shim (if active), the command."""
    command = list(argv)
    if Layer.LANDLOCK in active:
        if not Path(SHIM_PYTHON).exists():
            raise SandboxUnavailable(
                "landlock", f"the shim needs {SHIM_PYTHON}", "apt-get install python3"
            )
        shim_dir = SHIM_MOUNT if Layer.BWRAP in active else str(SHIM_DIR)
        spec = {
            "read": [resolve(p, workspace) for p in policy.filesystem.read_only]
            + ["/proc", "/dev", shim_dir],
            "exec": [resolve(p, workspace) for p in policy.filesystem.exec],
            "write": [str(workspace), "/tmp", "/dev"],  # noqa: S108 - the sandbox's private /tmp
            "abi": caps.landlock.abi,
            "cwd": str(workspace),
            "argv": command,
        }
        command = [SHIM_PYTHON, "-I", "-S", f"{shim_dir}/landlock_shim.py", json.dumps(spec)]
    if Layer.BWRAP not in active:
        return command
    assert caps.bwrap.path is not None  # noqa: S101 - the layer was required to be available
    prefix = bwrap_argv(
        caps.bwrap.path, policy, workspace, env=env, isolate_network=Layer.NETNS in active,
        seccomp_fd=seccomp_fd, shim_dir=SHIM_DIR if Layer.LANDLOCK in active else None,
        hardening=caps.bwrap.options,
    )  # fmt: skip
    return [*prefix, "--", *command]


def run_once(
    policy: SandboxPolicy,
    argv: list[str],
    *,
    workspace: Path,
    agent_id: str = "agent",
    stdin: bytes | None = None,
    timeout: float | None = None,
    layers: Collection[Layer | str] | None = None,
    capabilities: HostCapabilities | None = None,
) -> ExecResult:
    """Run ``argv`` in a new sandbox built from ``policy`` and tear it down.

    Args:
        policy: What the command may do.
        argv: The command.
        workspace: The agent's workspace (created if missing; the only writable place).
        agent_id: Names the cgroup and attributes violations.
        stdin: Bytes fed to the command.
        timeout: Wall-clock limit in seconds (default: the policy's).
        layers: The layers to apply (default: the policy's required layers). Fewer layers
            only for tests and the layer matrix.
        capabilities: Detection results (default: detected once per process).

    Returns:
        Exit status, output (capped at the policy's limit), accounting and violations.

    Raises:
        SandboxUnavailable: A layer to apply is unavailable on this host.
        SandboxError: The sandbox could not be built or torn down.
    """
    active = [Layer(layer) for layer in (layers if layers is not None else policy.required_layers)]
    caps = capabilities or host_capabilities()
    _require(active, caps)
    root = os.geteuid() == 0
    uid, gid = (SANDBOX_UID, SANDBOX_UID) if root else (os.getuid(), os.getgid())
    workspace = workspace.resolve()
    prepare_workspace(workspace, policy, uid, gid)
    env = {name: resolve(value, workspace) for name, value in policy.environment.set.items()}
    env.update({name: os.environ[name] for name in policy.environment.allow if name in os.environ})
    program = build_filter(tuple(policy.syscalls.extra_deny)) if Layer.SECCOMP in active else None
    seccomp_fd = _seccomp_memfd(program) if program is not None and Layer.BWRAP in active else None
    command = _command(policy, argv, workspace, active, caps, env, seccomp_fd)
    cgroup = (
        AgentCgroup.unique(agent_id, caps.cgroups, policy.resources)
        if Layer.CGROUPS in active
        else None
    )
    limit = policy.resources.max_output_bytes
    started = time.monotonic()
    try:
        if cgroup is not None:
            cgroup.create()
        preexec = _preexec(
            cgroup,
            own_netns=Layer.NETNS in active and Layer.BWRAP not in active,
            drop_to=(uid, gid) if root else None,
            seccomp=program if Layer.BWRAP not in active else None,
        )
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=workspace,
                pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
                preexec_fn=preexec,  # noqa: PLW1509 - privileges must drop between fork and exec
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxError(f"cannot start the sandbox for {agent_id}: {exc}") from None

        def stop() -> None:
            if cgroup is not None:
                cgroup.kill_all()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        out, err, truncated, timed_out = _collect(
            process,
            stdin,
            limit,
            timeout if timeout is not None else policy.resources.wall_timeout_s,
            stop,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stats = cgroup.stats() if cgroup is not None else CgroupStats(0, 0, None)
    finally:
        if cgroup is not None:
            cgroup.remove()
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    duration = time.monotonic() - started
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    killed_by = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    wall = timeout if timeout is not None else policy.resources.wall_timeout_s
    violations = _violations(
        stats,
        timed_out=timed_out,
        truncated=truncated,
        killed_by=killed_by,
        timeout=wall,
        limit=limit,
    )
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
        layers=tuple(layer.value for layer in active),
    )


if (
    __name__ == "__main__"
):  # pragma: no cover - manual use: python -m sentinel.sandbox.runner CMD...
    print(run_once(SandboxPolicy(), sys.argv[1:], workspace=Path("/tmp/sentinel-ws")))  # noqa: S108
