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

from sentinel.sandbox.empty_nodes import empty_nodes
from sentinel.sandbox.policy_terms import MANDATORY_DENY, WORKSPACE, PolicyView, resolve

SHIM_MOUNT: Final = "/.sentinel"
"""Where the Landlock shim's directory is bound inside the sandbox."""
SHIM_BINARY_MOUNT: Final = "/.sentinel-shim"
"""Where the native Landlock shim is bound inside the sandbox."""
SANDBOX_HOSTNAME: Final = "sentinel-sandbox"
MERGED_USR_LINKS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""On merged-/usr systems these are symlinks into /usr; the sandbox gets the same links."""


def bwrap_argv(
    bwrap: str,
    policy: PolicyView,
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


def _binds(policy: PolicyView, workspace: Path) -> list[str]:
    """The policy's binds, in an order where the narrower rule always wins.

    Host read-only and exec paths first, then the workspace read-write, then read-only paths
    inside the workspace (bound after it, so they stay read-only), then the mandatory
    read-only set, and last the policy's denials: an empty 000 node bound over each, so a
    denied file can be neither read nor executed whatever a wider rule allows.
    """
    files = policy.filesystem
    empty_file, empty_dir, read_only_dir = empty_nodes()
    argv: list[str] = []
    bound: list[str] = []
    inside = [p for p in files.read_only if p.startswith(WORKSPACE)]
    for path in (*files.read_only, *files.exec):
        resolved = resolve(path, workspace)
        if path in inside or resolved in bound:
            continue
        if os.path.lexists(resolved) and not Path(resolved).is_symlink():
            argv += ["--ro-bind", resolved, resolved]
            bound.append(resolved)
    argv += ["--bind", str(workspace), str(workspace)]
    mandatory = [Path(resolve(path, workspace)) for path in MANDATORY_DENY]
    # A denied path's parents inside the workspace (.git for .git/hooks) become mount points
    # too: a mount point cannot be renamed, so the agent cannot move .git aside with its
    # read-only hooks and make a fresh one.
    parents = {
        parent
        for path in mandatory
        if path.is_relative_to(workspace)
        for parent in path.relative_to(workspace).parents[:-1]
    }
    for parent in sorted(parents, key=lambda p: len(p.parts)):
        source = workspace / parent
        if source.is_dir() and not source.is_symlink():
            argv += ["--bind", str(source), str(source)]
    argv += _workspace_read_only(inside, workspace, read_only_dir)
    for resolved in map(str, mandatory):
        if os.path.lexists(resolved):
            argv += ["--ro-bind", resolved, resolved]
    for path in sorted(files.deny, key=lambda p: p.count("/")):
        resolved = resolve(path, workspace)
        if not os.path.lexists(resolved):
            continue
        node = empty_dir if Path(resolved).is_dir() else empty_file
        argv += ["--ro-bind", str(node), resolved]
    return argv


def _workspace_read_only(paths: list[str], workspace: Path, stand_in: Path) -> list[str]:
    """Read-only binds of ``paths`` inside the workspace, bound after it (outer first).

    A path that does not exist (or is a link, which a mount would follow) gets the empty
    read-only ``stand_in``: the agent can never create it writable.
    """
    argv: list[str] = []
    for path in sorted(paths, key=lambda p: p.count("/")):
        resolved = resolve(path, workspace)
        usable = os.path.lexists(resolved) and not Path(resolved).is_symlink()
        argv += ["--ro-bind", resolved if usable else str(stand_in), resolved]
    return argv
