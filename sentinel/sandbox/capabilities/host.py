"""The host as detection sees it: files under a root, commands, and live kernel probes.

Detection reads everything through a :class:`HostView`, so that tests can point it at a
simulated ``/proc`` and ``/sys`` tree with canned probe outcomes, and run the same decision
code that runs against the real kernel.
"""

from __future__ import annotations

import errno
import os
import pwd
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sentinel.sandbox import kernel_api
from sentinel.sandbox.capabilities.executables import find_executable
from sentinel.sandbox.capabilities.model import Probe
from sentinel.sandbox.capabilities.wasm_probe import run_wasm_smoke_test

COMMAND_TIMEOUT_S: Final = 10.0
"""Upper bound for one probe command (bwrap, nft, ip); they finish in milliseconds."""


NOBODY_UID: Final = 65534
"""Fallback for the unprivileged probe when the passwd database has no ``nobody``."""


@dataclass(frozen=True)
class CommandResult:
    """Exit status and output of a probe command."""

    returncode: int
    stdout: str
    stderr: str


class HostView:
    """Read-only access to the host, plus the live probes detection needs.

    Args:
        root: Where ``/proc``, ``/sys``, ``/dev`` and ``/etc`` are found; ``/`` for this host.
    """

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)

    # -- files -----------------------------------------------------------------------------
    def path(self, absolute: str) -> Path:
        """Map an absolute host path into this view."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        """Return the text of a file, or None if it is missing or unreadable."""
        try:
            return self.path(absolute).read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def read_int(self, absolute: str) -> int | None:
        """Return a file holding one integer, or None if missing or not an integer."""
        text = self.read(absolute)
        try:
            return int(text.strip()) if text is not None else None
        except ValueError:
            return None

    def exists(self, absolute: str) -> bool:
        """Whether the path exists in this view."""
        return self.path(absolute).exists()

    def which(self, name: str) -> str | None:
        """Find an executable on $PATH, then in the system bin directories."""
        return find_executable(name, self.root)

    def is_setuid(self, absolute: str) -> bool:
        """Whether the file has the set-user-id bit."""
        try:
            return bool(self.path(absolute).stat().st_mode & 0o4000)
        except OSError:
            return False

    # -- identity --------------------------------------------------------------------------
    def euid(self) -> int:
        """The effective uid detection runs as."""
        return os.geteuid()

    def unprivileged_ids(self) -> tuple[int, int]:
        """The uid and gid used to probe what an unprivileged user may do."""
        if self.euid() != 0:
            return os.geteuid(), os.getegid()
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            return NOBODY_UID, NOBODY_UID
        return nobody.pw_uid, nobody.pw_gid

    # -- commands --------------------------------------------------------------------------
    def run(
        self,
        argv: list[str],
        *,
        stdin: str | None = None,
        in_new_netns: bool = False,
    ) -> CommandResult:
        """Run a probe command with an empty environment and a timeout.

        Args:
            argv: The command; ``argv[0]`` is a path found by :meth:`which`.
            stdin: Text fed to the command.
            in_new_netns: Run it inside a fresh network namespace that disappears with it,
                so probes that create tables or links leave nothing behind on the host.
        """
        preexec: Callable[[], None] | None = _enter_new_netns if in_new_netns else None
        try:
            done = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
                preexec_fn=preexec,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CommandResult(-1, "", f"timed out after {COMMAND_TIMEOUT_S:.0f} s")
        except subprocess.SubprocessError as exc:
            return CommandResult(-1, "", str(exc))
        except OSError as exc:
            return CommandResult(-1, "", f"{argv[0]}: {exc.strerror}")
        return CommandResult(done.returncode, done.stdout, done.stderr)

    # -- live kernel probes ----------------------------------------------------------------
    def landlock_abi(self) -> tuple[int, int]:
        """``(abi, errno)`` from the Landlock version query; see :mod:`kernel_api`."""
        return kernel_api.landlock_abi_version()

    def unshare_probe(self, flags: int, *, as_uid: tuple[int, int] | None = None) -> Probe:
        """Try ``unshare(flags)`` in a child, optionally after dropping to ``as_uid``."""

        def attempt() -> int:
            # Only root can (and needs to) switch uid; a normal user probes as itself.
            if as_uid is not None and os.geteuid() == 0:
                err = kernel_api.drop_to_uid(*as_uid)
                if err:
                    return err
            return kernel_api.unshare(flags)

        err = kernel_api.errno_in_child(attempt)
        return Probe.from_errno(err, _strerror(err))

    def seccomp_probe(self) -> Probe:
        """Install an allow-all seccomp filter in a child."""
        err = kernel_api.errno_in_child(kernel_api.load_allow_all_seccomp_filter)
        return Probe.from_errno(err, _strerror(err))

    def bpf_probe(self) -> tuple[Probe, Probe]:
        """Load a raw-tracepoint program and attach it to ``sys_enter`` (load, attach)."""
        load_err, attach_err = kernel_api.bpf_attach_raw_tracepoint("sys_enter")
        return (
            Probe.from_errno(load_err, _strerror(load_err)),
            Probe.from_errno(attach_err, _strerror(attach_err)),
        )

    def open_probe(self, absolute: str) -> Probe:
        """Open a device read-write and close it again."""
        try:
            fd = os.open(self.path(absolute), os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            return Probe.from_errno(exc.errno or errno.EIO, exc.strerror or "")
        os.close(fd)
        return Probe(ok=True)

    def mkdir_probe(self, absolute: str, expect_file: str | None = None) -> Probe:
        """Create and remove a uniquely named child directory of ``absolute`` (a cgroup).

        Args:
            absolute: The parent directory.
            expect_file: A file the kernel must have created in the child (a cgroup's
                interface file, such as ``pids.max``), proving the controller is attached.
        """
        probe_dir = self.path(absolute) / f"sentinel-doctor-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            probe_dir.mkdir()
        except OSError as exc:
            return Probe.from_errno(exc.errno or errno.EIO, exc.strerror or "")
        try:
            has_file = expect_file is None or (probe_dir / expect_file).exists()
        finally:
            try:
                probe_dir.rmdir()
            except OSError as exc:
                return Probe.from_errno(
                    exc.errno or errno.EIO, f"created but cannot remove {probe_dir}"
                )
        if not has_file:
            return Probe.from_errno(errno.ENOENT, f"a new cgroup has no {expect_file}")
        return Probe(ok=True)

    def wasmtime_probe(self) -> tuple[str | None, Probe | None]:
        """Run a tiny module with fuel metering and a memory limit in Wasmtime."""
        return run_wasm_smoke_test()


def _enter_new_netns() -> None:
    err = kernel_api.unshare(kernel_api.CLONE_NEWNET)
    if err:
        raise OSError(err, os.strerror(err))


def _strerror(err: int) -> str:
    return f"{errno.errorcode.get(err, str(err))}: {os.strerror(err)}" if err else ""
