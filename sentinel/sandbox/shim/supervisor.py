"""The warm sandbox's supervisor: runs inside the sandbox, executes one command per request.

Started once per agent by ``Sandbox`` as the sandbox's command (after bwrap's namespaces,
mounts and seccomp filter). It confines itself with Landlock first, so every command it
starts inherits the ruleset; the cgroup and the namespaces hold it and its children.
Requests and replies are JSON lines on stdin and stdout. Standard library only.

Spec (argv[1]): {"landlock", "seccomp", "signal_guard", "cwd", "env", "pid_namespace"}
Request:  {"id": token, "argv": [...], "stdin": b64, "timeout": s, "limit": bytes}
Reply:    {"id", "exit_code", "signal", "stdout": b64, "stderr": b64, "truncated",
           "timed_out", "cpu_s", "max_rss_bytes", "denied_syscalls", "leftovers", "error"}

One command at a time, and nothing of it outlives it: each command is its own session
with its own three pipes, and when it exits (or times out, or floods its output) every
other process in the sandbox is killed before the reply, so a process an earlier command
left behind can never read a later command's input or write into its output. The
supervisor is not dumpable: a command cannot open its descriptors through
``/proc/<pid>/fd`` (the channel to the launcher) nor read its memory. Nor can a command
signal it, its threads or the namespace's init (``signal_guard.py``, a seccomp filter every
command inherits): its threads are made before the guard, which names them, and none after.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import importlib.util
import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

SHIM_FAILED = 126
NOT_FOUND = 127
# include/uapi/linux/prctl.h
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS = 10000
"""Rounds of killing the direct children without a pid namespace (each round reaps the
killed ones and kills their orphans, which the subreaper inherits)."""
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
"""Signals Python ignores, restored to their default action in every command."""


def _load(name: str) -> Any:  # noqa: ANN401 - a module loaded by path
    """Load a sibling file as a module (inside the sandbox the package is not importable)."""
    module_spec = importlib.util.spec_from_file_location(
        f"sentinel_{name}", Path(__file__).resolve().parent / f"{name}.py"
    )
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


streams = _load("streams")


class Feeder:
    """One thread for the supervisor's life that writes each command's stdin.

    A thread per command would be a thread the signal guard cannot name (``kill`` on any
    thread's id reaches the whole supervisor): this one exists before the guard does.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[int, bytes, threading.Event]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            fd, data, done = self._jobs.get()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view[: streams.READ_CHUNK]) :]
            except OSError:
                pass  # the command exited without reading it all
            finally:
                os.close(fd)
                done.set()

    def feed(self, fd: int, data: bytes) -> threading.Event:
        """Write ``data`` to ``fd``, then close it; the event is set when done."""
        done = threading.Event()
        self._jobs.put((fd, data, done))
        return done


def _landlock(spec: dict[str, Any]) -> None:
    module = _load("landlock")
    module.restrict(
        spec["read"], spec["write"], spec["exec"], spec["abi"], spec.get("connect_ports", ())
    )


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) < 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[int, int, int, int]:
    """Start ``argv`` in a session of its own with three fresh pipes (posix_spawn: a vfork).

    Raises:
        OSError: The command could not be executed (the pipes are closed then).
    """
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, in_r, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    try:
        # Every other descriptor of the supervisor is close-on-exec (PEP 446 and the
        # kernel's for the seccomp listener): a command inherits only its own pipes.
        pid = os.posix_spawnp(
            argv[0], argv, env, file_actions=actions, setsid=True, setsigdef=RESET_SIGNALS
        )
    except OSError:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    return pid, in_w, out_r, err_r


def _children() -> list[int]:
    """This process's children, zombies included (threads never fork here)."""
    with open(f"/proc/self/task/{os.getpid()}/children") as handle:  # noqa: PTH123 - hot path
        return [int(pid) for pid in handle.read().split()]


class Cleaner:
    """Kills every process in the sandbox except the supervisor (and bwrap's init).

    With a pid namespace of its own (bwrap), ``kill(-1, SIGKILL)`` reaches exactly the
    other processes of the namespace; without one, the supervisor is a child subreaper:
    every process a command leaves behind is its descendant and becomes its child when
    its parent dies, so killing the children round after round reaches all of them.
    """

    def __init__(self, pid_namespace: bool) -> None:
        self.pid_namespace = pid_namespace
        _prctl(PR_SET_CHILD_SUBREAPER, 1)

    def _others(self) -> list[int]:
        if not self.pid_namespace:
            return _children()
        # The namespace's /proc lists exactly its processes; init (1) and this one stay.
        me = os.getpid()
        names = os.listdir("/proc")  # noqa: PTH208 - the hot path of every command
        return [int(n) for n in names if n.isdigit() and int(n) not in (1, me)]

    def kill_all(self) -> int:
        """SIGKILL every other process once; how many there were.

        One pid at a time, never ``kill(-1)``: the signal guard refuses that to everyone.
        """
        found = self._others()
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return len(found)

    def reap(self, command: int) -> tuple[int, Any, int]:
        """Wait for ``command`` and every other process; ``(status, rusage, leftovers)``.

        ``leftovers`` counts the processes that were still there when the command ended.
        Killing goes round after round: a process forked between a listing and its kill,
        or an orphan handed to this subreaper, is found by the next round.
        """
        self.kill_all()
        _, status, usage = os.wait4(command, 0)
        leftovers = 0
        for _ in range(KILL_ROUNDS):
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
                if not self.kill_all():
                    break  # no child, nothing else alive (zombies of init included)
            if pid:
                leftovers += 1
                continue
            self.kill_all()
            time.sleep(0.0005)
        return status, usage, leftovers


def _run(
    request: dict[str, Any], spec: dict[str, Any], cleaner: Cleaner, feeder: Feeder
) -> dict[str, Any]:
    reply: dict[str, Any] = {"id": request.get("id"), "denied_syscalls": [], "error": None}
    argv = request["argv"]
    try:
        pid, in_w, out_r, err_r = _spawn(argv, spec["env"])
    except OSError as exc:
        message = f"sentinel: cannot execute {argv[0]!r}: {exc.strerror}\n"
        code = NOT_FOUND if isinstance(exc, FileNotFoundError) else SHIM_FAILED
        return reply | {
            "exit_code": code, "signal": None, "stdout": "",
            "stderr": base64.b64encode(message.encode()).decode(), "truncated": False,
            "timed_out": False, "cpu_s": 0.0, "max_rss_bytes": 0, "leftovers": 0,
        }  # fmt: skip
    data = base64.b64decode(request.get("stdin") or "")
    fed = feeder.feed(in_w, data) if data else None
    if fed is None:
        os.close(in_w)  # end of input at once
    exited = os.pidfd_open(pid)
    try:
        out, err, truncated, timed_out = streams.read_outputs(
            out_r,
            err_r,
            request["limit"],
            time.monotonic() + request["timeout"],
            exited_fd=exited,
            on_exit=cleaner.kill_all,
        )
    finally:
        cleaner.kill_all()  # before the pipes close: a cut-off command dies of SIGKILL
        os.close(exited)
        os.close(out_r)
        os.close(err_r)
    status, usage, leftovers = cleaner.reap(pid)
    if fed is not None:
        fed.wait(1.0)
    return reply | {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "stdout": base64.b64encode(out).decode(),
        "stderr": base64.b64encode(err).decode(),
        "truncated": truncated,
        "timed_out": timed_out,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_bytes": usage.ru_maxrss * 1024,
        "denied_syscalls": RECORDER.take() if RECORDER is not None else [],
        "leftovers": leftovers,
    }


RECORDER: Any = None


def _send(message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def _guard(guard: dict[str, Any], pid_namespace: bool) -> None:
    """Install the signal guard naming this process, every thread it has, and init."""
    module = _load("signal_guard")
    protected = {os.getpid(), *(t.native_id for t in threading.enumerate() if t.native_id)}
    if pid_namespace:
        protected.add(1)
    numbers = guard["numbers"]
    module.install(module.program(guard["arch"], numbers, protected), numbers["seccomp"])


def main() -> None:
    """Confine this process (Landlock, seccomp), then serve requests until stdin closes."""
    global RECORDER  # noqa: PLW0603 - one recorder for the supervisor's life
    spec = json.loads(sys.argv[1])
    try:
        _prctl(PR_SET_DUMPABLE, 0)  # before any command: no /proc/<pid>/fd, mem, ptrace
        cleaner = Cleaner(bool(spec.get("pid_namespace")))
        if spec.get("landlock"):
            _landlock(spec["landlock"])
        if spec.get("seccomp"):
            RECORDER = _load("seccomp_notify").DenialRecorder(base64.b64decode(spec["seccomp"]))
        feeder = Feeder()
        if spec.get("signal_guard"):
            _guard(spec["signal_guard"], cleaner.pid_namespace)
        os.chdir(spec["cwd"])
        os.environ["PATH"] = spec["env"].get("PATH", os.defpath)  # posix_spawnp searches it
    except OSError as exc:
        _send({"ready": False, "error": f"confinement failed: {exc}"})
        os._exit(SHIM_FAILED)
    _send({"ready": True, "pid": os.getpid()})
    requests = sys.stdin.buffer
    while line := requests.readline():
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            reply = _run(request, spec, cleaner, feeder)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply, never a crash
            with_id = request.get("id") if isinstance(request, dict) else None
            reply = {"id": with_id, "error": f"{type(exc).__name__}: {exc}"}
        _send(reply)


if __name__ == "__main__":
    main()
