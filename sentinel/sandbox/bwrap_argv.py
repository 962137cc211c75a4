"""The bubblewrap command line of a sandbox, built from its policy.

bwrap is started as the unprivileged sandbox uid (never as root: launched by root, bwrap
would map the sandbox's root to host root, which peers did and which let commands write
global sysctls), so it creates an unprivileged user namespace and every other namespace
inside it. The sandbox sees: read-only binds of the policy's paths, its workspace
read-write, a private /proc, /dev and /tmp, and nothing else of the host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from sentinel.sandbox.policy import SandboxPolicy, resolve

SHIM_MOUNT: Final = "/.sentinel"
"""Where the Landlock shim's directory is bound inside the sandbox."""
SHIM_BINARY_MOUNT: Final = "/.sentinel-shim"
"""Where the native Landlock shim is bound inside the sandbox."""
SANDBOX_HOSTNAME: Final = "sentinel-sandbox"
MERGED_USR_LINKS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""On merged-/usr systems these are symlinks into /usr; the sandbox gets the same links."""


def bwrap_argv(
    bwrap: str,
    policy: SandboxPolicy,
    workspace: Path,
    *,
    env: Mapping[str, str],
    isolate_network: bool,
    seccomp_fd: int | None,
    shim_dir: Path | None,
    hardening: Sequence[str],
    shim_binary: Path | None = None,
    scratch_on_workspace: bool = False,
) -> list[str]:
    """The argv up to (not including) the ``--`` that precedes the command.

    Args:
        bwrap: Path of the bwrap executable.
        policy: The policy.
        workspace: The agent's workspace (bound read-write at the same path).
        env: The complete environment of the command (bwrap starts from an empty one).
        isolate_network: Give the sandbox its own network namespace (loopback only).
        seccomp_fd: A file descriptor holding the BPF program, or None for no filter.
        shim_dir: Directory with the Python shims, bound read-only at ``/.sentinel``.
        shim_binary: The native Landlock shim, bound read-only at ``/.sentinel-shim``.
        hardening: Options this bwrap supports among ``--disable-userns``, ``--cap-drop``.
        scratch_on_workspace: The workspace is its own noexec file system (the disk quota):
            /tmp and /dev/shm are bound from its ``.tmp`` and ``.shm`` (noexec, counted in
            the quota) instead of fresh tmpfs mounts (which a loader could execute from).
    """
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    if isolate_network:
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--new-session", "--hostname", SANDBOX_HOSTNAME, "--clearenv"]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    if "--cap-drop" in hardening:
        argv += ["--cap-drop", "ALL"]
    if "--disable-userns" in hardening:
        argv.append("--disable-userns")  # no nested user namespaces: no route to new capabilities
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if scratch_on_workspace:
        argv += ["--bind", f"{workspace}/.tmp", "/tmp", "--bind", f"{workspace}/.shm", "/dev/shm"]  # noqa: S108
    else:
        argv += ["--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]  # noqa: S108 - private tmpfs mounts
    argv += ["--remount-ro", "/dev"]  # device nodes stay writable; nothing new can be created
    for link in map(Path, MERGED_USR_LINKS):
        if link.is_symlink():
            argv += ["--symlink", str(link.readlink()), str(link)]
    argv += _binds(policy, workspace)
    if shim_dir is not None:
        argv += ["--ro-bind", str(shim_dir), SHIM_MOUNT]
    if shim_binary is not None:
        argv += ["--ro-bind", str(shim_binary), SHIM_BINARY_MOUNT]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--chdir", str(workspace)]
    return argv


def _binds(policy: SandboxPolicy, workspace: Path) -> list[str]:
    """Read-only binds of the policy's paths, the workspace, and the deny set over it."""
    argv: list[str] = []
    bound: list[str] = []
    for path in (*policy.filesystem.read_only, *policy.filesystem.exec):
        resolved = resolve(path, workspace)
        if resolved not in bound and os.path.lexists(resolved) and not Path(resolved).is_symlink():
            argv += ["--ro-bind", resolved, resolved]
            bound.append(resolved)
    argv += ["--bind", str(workspace), str(workspace)]
    denied = [Path(resolve(path, workspace)) for path in policy.filesystem.denied]
    # A denied path's parents inside the workspace (.git for .git/hooks) become mount points
    # too: a mount point cannot be renamed, so the agent cannot move .git aside with its
    # read-only hooks and make a fresh one.
    parents = {
        parent
        for path in denied
        if path.is_relative_to(workspace)
        for parent in path.relative_to(workspace).parents[:-1]
    }
    for parent in sorted(parents, key=lambda p: len(p.parts)):
        source = workspace / parent
        if source.is_dir() and not source.is_symlink():
            argv += ["--bind", str(source), str(source)]
    for resolved in map(str, denied):
        if os.path.lexists(resolved):
            argv += ["--ro-bind", resolved, resolved]
    return argv
