"""Building and tearing down one sandbox: the steps shared by cold runs and warm sandboxes.

Layer by layer (each can be switched off for the layer matrix and negative controls):

- ``bwrap``: namespaces and a minimal file-system view (see :mod:`bwrap_argv`);
- ``netns``: a network namespace of its own, loopback only (bwrap ``--unshare-net``, or
  ``unshare(CLONE_NEWNET)`` when bwrap is off);
- ``seccomp``: the deny filter, installed by bwrap just before exec (or by the launcher
  when bwrap is off);
- ``landlock``: applied inside the sandbox by the shim or the supervisor, after bwrap's
  mounts, before any agent code runs;
- ``cgroups``: a per-agent group with memory, pids and cpu limits, joined before bwrap
  starts and killed as a whole at teardown; with it, the workspace's disk quota (its own
  loop-mounted file system, see :mod:`disk_quota`): the resource-limits layer.

Always (not a switchable layer): the open-file and file-size rlimits of the policy, and the
drop to the unprivileged sandbox uid (a root launcher leases each sandbox a uid of its own,
:mod:`sentinel.sandbox.agent_uid`, so per-user kernel limits are per agent).

Agent code never runs as root: a root launcher drops to the sandbox uid before executing
bwrap. Nothing fails open: a layer the host lacks raises
:class:`~sentinel.errors.SandboxUnavailable` before anything runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import signal
import subprocess
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sentinel.errors import SandboxDegradedWarning, SandboxError, SandboxUnavailable
from sentinel.sandbox import kernel_api
from sentinel.sandbox.agent_uid import UidLease, lease
from sentinel.sandbox.bwrap_argv import SHIM_MOUNT, bwrap_argv
from sentinel.sandbox.cgroup import AgentCgroup, CgroupStats
from sentinel.sandbox.disk_quota import release_point
from sentinel.sandbox.launch_facts import LaunchFacts, launch_facts
from sentinel.sandbox.native_shim import shim_path
from sentinel.sandbox.policy_terms import Layer, PolicyView, resolve
from sentinel.sandbox.seccomp_filter import build_filter
from sentinel.sandbox.workspace import SESSION_HOME, on_cas, prepare_workspace

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities import HostCapabilities
    from sentinel.sandbox.network import AgentNetwork

NOBODY_UID: Final = 65534
"""Host ``nobody``: owner of workspaces prepared for root controls (agents never run as it:
each sandbox of a root launcher has a uid of its own, see :mod:`agent_uid`)."""
SHIM_DIR: Final = Path(__file__).resolve().parent / "shim"
HOST_DEVICES: Final = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
)  # fmt: skip
"""Devices a sandbox without bwrap may open (with bwrap, /dev is its own minimal one)."""
SHIM_PYTHON: Final = "/usr/bin/python3"
"""The interpreter that runs the shim and the supervisor inside the sandbox (under /usr)."""

_capabilities: HostCapabilities | None = None


def host_capabilities() -> HostCapabilities:
    """Detection results for this host: once per process, and for root once per boot.

    Root reuses the answer cached by an earlier process while its key (boot, kernel, tools,
    sysctls: see :mod:`sentinel.sandbox.capabilities.cache`) still matches.
    """
    global _capabilities  # noqa: PLW0603 - one detection per process, as the enforcer needs
    if _capabilities is None:
        # pydantic and the detection cache load here, not with the launch: a launch from
        # the launch cache (sentinel.sandbox.launch_cache) gets its facts without them.
        from sentinel.sandbox.capabilities.cache import cached_detect  # noqa: PLC0415

        _capabilities = cached_detect()
    return _capabilities


SESSION_PINS: Final = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "core.fsmonitor",
    "GIT_CONFIG_VALUE_0": "false",
    "GIT_CONFIG_KEY_1": "core.hooksPath",
    "GIT_CONFIG_VALUE_1": "/dev/null",
    "PYTHONNOUSERSITE": "1",
}
"""Set in every sandbox whatever the policy says: git reads no global or system config and
runs no fsmonitor or hook (command-line config outranks any repository's, a nested one the
agent made included), Python ignores the user site. See SECURITY.md, "Persistence"."""


def session_environment(policy: PolicyView, workspace: Path) -> dict[str, str]:
    """The complete environment of a sandbox: the policy's, then the session pins.

    A HOME the policy puts inside the workspace becomes the per-session home
    (:data:`~sentinel.sandbox.workspace.SESSION_HOME`, emptied when each session starts).
    """
    env = {name: resolve(value, workspace) for name, value in policy.environment.set.items()}
    env.update({name: os.environ[name] for name in policy.environment.allow if name in os.environ})
    home = env.get("HOME")
    if home is None or Path(home) == workspace or Path(home).is_relative_to(workspace):
        env["HOME"] = str(workspace / SESSION_HOME)
    env.update(SESSION_PINS)
    return env


@functools.lru_cache(maxsize=32)
def compiled_filter(extra_deny: tuple[str, ...], *, notify: bool = False) -> bytes:
    """:func:`build_filter`'s program, compiled once per process for each deny list.

    A cold run used to compile its filter (about 3,000 instructions of Python) every time.
    """
    return build_filter(extra_deny, notify=notify)


def _load_seccomp(program: bytes) -> None:
    """Install the filter on the calling process (launcher side, when bwrap is off)."""
    err = kernel_api.load_seccomp_program(program)
    if err:
        raise OSError(err, "the seccomp filter was refused")


class SandboxLaunch:
    """One sandbox's resources: checked layers, workspace, environment, filter, cgroup.

    Args:
        policy: What the sandbox enforces.
        workspace: The agent's workspace (created if missing; the only writable place).
        agent_id: Names the cgroup and attributes violations.
        layers: The layers to apply (default: the policy's required layers).
        capabilities: Detection results (default: detected once per process).
        degraded: Drop the layers this host lacks (with a :class:`SandboxDegradedWarning`)
            instead of refusing.
        uid_lease: The agent uid to run as (a warm sandbox keeps one across rebuilds); a
            root launcher without one leases its own, released at :meth:`teardown`.

    Raises:
        SandboxUnavailable: A layer to apply is unavailable on this host (strict mode).
        SandboxError: The workspace is unusable.
    """

    def __init__(
        self,
        policy: PolicyView,
        workspace: Path,
        agent_id: str,
        layers: Collection[Layer | str] | None = None,
        capabilities: HostCapabilities | LaunchFacts | None = None,
        *,
        degraded: bool = False,
        uid_lease: UidLease | None = None,
    ) -> None:
        self.policy = policy
        self.agent_id = agent_id
        self.active = tuple(
            Layer(layer) for layer in (layers if layers is not None else policy.required_layers)
        )
        self.caps = launch_facts(capabilities or host_capabilities())
        if degraded:
            missing = [layer for layer in self.active if self.caps.layer(layer.value).unavailable]
            self.active = tuple(layer for layer in self.active if layer not in missing)
            if missing:
                names = ", ".join(layer.value for layer in missing)
                warnings.warn(
                    f"sandbox of {agent_id} runs DEGRADED, without: {names}",
                    SandboxDegradedWarning,
                    stacklevel=3,
                )
        for layer in self.active:
            report = self.caps.layer(layer.value)
            if report.unavailable:
                raise SandboxUnavailable(layer.value, report.reason, report.fix)
        if self.uses(Layer.LANDLOCK) and not Path(SHIM_PYTHON).exists():
            raise SandboxUnavailable(
                "landlock", f"the in-sandbox shim needs {SHIM_PYTHON}", "apt-get install python3"
            )
        self.root = os.geteuid() == 0
        self.allowlist = self.uses(Layer.NETNS) and policy.network.mode == "allowlist"
        if self.allowlist and not self.root:
            raise SandboxUnavailable(
                "netns",
                "an egress allow-list needs root (a veth and nftables rules)",
                "run Sentinel as root",
            )
        self.workspace = workspace.resolve()
        self._own_lease: UidLease | None = None
        if self.root and uid_lease is None:
            uid_lease = self._own_lease = lease(agent_id, workspace_owner(self.workspace))
        self.uid, self.gid = (
            (uid_lease.uid, uid_lease.uid) if uid_lease else (os.getuid(), os.getgid())
        )
        # The workspace file system (quota, noexec, nosuid) needs root to mount; an
        # unprivileged launcher runs without it, and ``layers`` of its results say so.
        # A content-addressed workspace (sentinel.cas) is mounted by its owner already.
        self.on_cas = self.root and on_cas(self.workspace)
        self.workspace_fs = bool(policy.resources.disk_mb) and self.root and not self.on_cas
        quota = policy.resources.disk_mb if self.workspace_fs else 0
        self.mounted = False
        try:
            self.mounted = prepare_workspace(
                self.workspace, policy, self.uid, self.gid, quota_mb=quota
            )
            """Whether this launch mounted the workspace's quota file system."""
            self.env = session_environment(policy, self.workspace)
            self.program = (
                compiled_filter(tuple(policy.syscalls.extra_deny))
                if self.uses(Layer.SECCOMP)
                else None
            )
            self.cgroup = (
                AgentCgroup.unique(agent_id, self.caps.cgroups, policy.resources)
                if self.uses(Layer.CGROUPS)
                else None
            )
        except BaseException:
            # A launch that fails half-built has no teardown to call: give its own uid back
            # now. Left to ``UidLease.__del__`` it stays held while anything references this
            # frame, as the exception's traceback does while the caller handles it (a warm
            # sandbox rebuilding, a retry): the uid and its lease file stay taken meanwhile.
            # Likewise the quota file system this launch mounted: nobody will own it to
            # release it (a warm sandbox keeps it only once its launch is built).
            try:
                if self.mounted:
                    # One that will not unmount stays for the exit hook and ``sandbox gc``:
                    # the launch's own error is the one to raise.
                    with contextlib.suppress(SandboxError):
                        release_point(self.workspace)
            finally:
                if self._own_lease is not None:
                    self._own_lease.release()
            raise
        self.network: AgentNetwork | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def in_force(self) -> tuple[str, ...]:
        """Active layers, plus the workspace's own file system when it has one.

        ``workspace-fs`` is the ext4 quota file system, ``workspace-cas`` a content-addressed
        mount (:mod:`sentinel.cas`).
        """
        return tuple(layer.value for layer in self.active) + (
            ("workspace-fs",) if self.workspace_fs else ("workspace-cas",) if self.on_cas else ()
        )

    def uses(self, layer: Layer) -> bool:
        """Whether ``layer`` is active."""
        return layer in self.active

    @property
    def shim_dir(self) -> str:
        """Where the shim files are, as seen by the sandboxed process."""
        return SHIM_MOUNT if self.uses(Layer.BWRAP) else str(SHIM_DIR)

    def landlock_spec(self) -> dict[str, Any] | None:
        """The ruleset the shim or supervisor applies, or None when Landlock is off."""
        if not self.uses(Layer.LANDLOCK):
            return None
        files = self.policy.filesystem
        # With bwrap, /tmp and /dev are the sandbox's own; without it they are the host's,
        # so only the standard character devices are granted (and no /tmp at all).
        scratch = ["/tmp", "/dev"] if self.uses(Layer.BWRAP) else list(HOST_DEVICES)  # noqa: S108
        return {
            "read": [resolve(p, self.workspace) for p in files.read_only]
            + ["/proc", *(["/dev"] if self.uses(Layer.BWRAP) else HOST_DEVICES), self.shim_dir],
            "exec": [resolve(p, self.workspace) for p in files.exec],
            "write": [str(self.workspace), *scratch],
            "abi": self.caps.landlock_abi,
            "connect_ports": sorted(
                {int(entry.rpartition(":")[2]) for entry in self.policy.network.allow}
            ),
        }

    def _preexec(self, netns_fd: int | None) -> Callable[[], None]:
        cgroup = self.cgroup
        own_netns = self.uses(Layer.NETNS) and not self.uses(Layer.BWRAP) and netns_fd is None
        drop = (self.uid, self.gid) if self.root else None
        limits = self.policy.resources
        rlimits = (
            (resource.RLIMIT_NOFILE, limits.max_open_files),
            (resource.RLIMIT_FSIZE, limits.max_file_mb << 20),
        )
        program = self.program if not self.uses(Layer.BWRAP) else None

        def setup() -> None:
            # Order matters: join the cgroup and enter the network namespace while still
            # root, drop privileges for good, then (bwrap off) install the seccomp filter.
            if cgroup is not None:
                for procs in cgroup.procs_files():
                    with open(procs, "w") as handle:  # noqa: PTH123 - no pathlib in a pre-exec hook
                        handle.write(str(os.getpid()))
            if netns_fd is not None:  # the agent's allow-listed namespace, entered as root
                err = kernel_api.setns(netns_fd, kernel_api.CLONE_NEWNET)
                if err:
                    raise OSError(err, "setns(CLONE_NEWNET) failed")
            if own_netns:
                flags = kernel_api.CLONE_NEWNET | (
                    0 if os.geteuid() == 0 else kernel_api.CLONE_NEWUSER
                )
                err = kernel_api.unshare(flags)
                if err:
                    raise OSError(err, "unshare(CLONE_NEWNET) failed")
            for kind, value in rlimits:  # lowered before the drop: the sandbox cannot raise them
                resource.setrlimit(kind, (value, value))
            if drop is not None:
                os.setgroups([])
                os.setresgid(drop[1], drop[1], drop[1])
                os.setresuid(drop[0], drop[0], drop[0])
            if program is not None:
                _load_seccomp(program)

        return setup

    def spawn(
        self, command: list[str], *, bwrap_seccomp: bool = True, extra_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` (already wrapped by a shim if Landlock is on) in the sandbox.

        ``bwrap_seccomp=False`` leaves the filter to the command itself (the warm sandbox's
        supervisor installs a notifying one, to record each denial).

        Raises:
            SandboxError: The cgroup or the process could not be created.
        """
        seccomp_fd = None
        if self.program is not None and self.uses(Layer.BWRAP) and bwrap_seccomp:
            seccomp_fd = os.memfd_create("sentinel-seccomp", 0)  # inherited by bwrap
            os.write(seccomp_fd, self.program)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
        if self.uses(Layer.BWRAP):
            assert self.caps.bwrap_path is not None  # noqa: S101 - checked at construction
            prefix = bwrap_argv(
                self.caps.bwrap_path, self.policy, self.workspace, env=self.env,
                isolate_network=self.uses(Layer.NETNS) and not self.allowlist,
                seccomp_fd=seccomp_fd,
                shim_dir=SHIM_DIR,  # the Landlock shim and the warm sandbox's supervisor
                shim_binary=shim_path() if self.uses(Layer.LANDLOCK) else None,
                hardening=self.caps.bwrap_options,
                scratch_on_workspace=self.workspace_fs or self.on_cas,
            )  # fmt: skip
            command = [*prefix, "--", *command]
        netns_fd = None
        try:
            if self.cgroup is not None:
                self.cgroup.create()
            if self.allowlist:
                # nftables, veth and ipaddress load only for a sandbox with an allow-list
                from sentinel.sandbox.network import AgentNetwork  # noqa: PLC0415

                self.network = AgentNetwork(self.agent_id, list(self.policy.network.allow))
                netns_fd = os.open(self.network.path, os.O_RDONLY | os.O_CLOEXEC)
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=self.workspace,
                pass_fds=((seccomp_fd,) if seccomp_fd is not None else ()) + extra_fds,
                preexec_fn=self._preexec(netns_fd),  # noqa: PLW1509 - privileges drop between fork and exec
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.teardown()
            raise SandboxError(f"cannot start the sandbox of {self.agent_id}: {exc}") from None
        finally:
            for fd in (seccomp_fd, netns_fd):
                if fd is not None:
                    os.close(fd)
        return self.process

    def stop(self) -> None:
        """Kill every process of the sandbox now."""
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def stats(self) -> CgroupStats:
        """The cgroup's counters (zeros without the cgroup layer)."""
        return self.cgroup.stats() if self.cgroup is not None else CgroupStats(0, 0, None)

    def dropped_packets(self) -> int:
        """Packets the egress allow-list dropped so far (0 without one)."""
        return self.network.dropped_packets() if self.network is not None else 0

    def teardown(self) -> None:
        """Kill everything, remove the cgroup and the network namespace (idempotent)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.stop()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        try:
            if self.cgroup is not None:
                self.cgroup.remove()  # raises what it could not remove: never eaten
        finally:
            if self.network is not None:
                self.network.close()
                self.network = None
            if self._own_lease is not None:
                self._own_lease.release()


def workspace_owner(workspace: Path) -> int | None:
    """The uid owning ``workspace`` (not following a link), None if it does not exist."""
    try:
        return os.lstat(workspace).st_uid
    except FileNotFoundError:
        return None
