"""The warm sandbox's supervisor: runs inside the sandbox, executes one command per request.

Started once per agent by ``Sandbox`` as the sandbox's command (after bwrap's namespaces,
mounts and seccomp filter). It confines itself with Landlock first, so every command it
forks inherits the ruleset; the cgroup and the namespaces hold it and its children.
Requests and replies are JSON lines on stdin and stdout. Standard library only.

Request:  {"argv": [...], "stdin": b64, "timeout": s, "limit": bytes, "cwd": path, "env": {...}}
Reply:    {"exit_code", "signal", "stdout": b64, "stderr": b64, "truncated", "timed_out",
           "cpu_s", "max_rss_bytes", "error"}
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

SHIM_FAILED = 126


def _load(name: str) -> Any:  # noqa: ANN401 - a module loaded by path
    """Load a sibling file as a module (inside the sandbox the package is not importable)."""
    module_spec = importlib.util.spec_from_file_location(
        f"sentinel_{name}", Path(__file__).resolve().parent / f"{name}.py"
    )
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


streams = _load("streams")


def _landlock(spec: dict[str, Any]) -> None:
    module = _load("landlock")
    module.restrict(
        spec["read"], spec["write"], spec["exec"], spec["abi"], spec.get("connect_ports", ())
    )


def _spawn(request: dict[str, Any]) -> tuple[int, int, int, int]:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command
        try:
            os.setsid()
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            os.chdir(request["cwd"])
            os.execvpe(request["argv"][0], request["argv"], request["env"])  # noqa: S606 - the job
        except OSError as exc:
            os.write(
                2, f"sentinel: cannot execute {request['argv'][0]!r}: {exc.strerror}\n".encode()
            )
            os._exit(127 if isinstance(exc, FileNotFoundError) else SHIM_FAILED)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, out_r, err_r


def _run(request: dict[str, Any]) -> dict[str, Any]:
    pid, in_w, out_r, err_r = _spawn(request)
    feeder = streams.feed(in_w, base64.b64decode(request.get("stdin") or ""))
    deadline = time.monotonic() + request["timeout"]
    out, err, truncated, timed_out = streams.read_outputs(out_r, err_r, request["limit"], deadline)
    if timed_out or truncated:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    os.close(out_r)
    os.close(err_r)
    _, status, usage = os.wait4(pid, 0)
    feeder.join(1.0)
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "stdout": base64.b64encode(out).decode(),
        "stderr": base64.b64encode(err).decode(),
        "truncated": truncated,
        "timed_out": timed_out,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_bytes": usage.ru_maxrss * 1024,
        "denied_syscalls": RECORDER.take() if RECORDER is not None else [],
        "error": None,
    }


RECORDER: Any = None


def main() -> None:
    """Confine this process (Landlock, seccomp), then serve requests until stdin closes."""
    global RECORDER  # noqa: PLW0603 - one recorder for the supervisor's life
    spec = json.loads(sys.argv[1])
    try:
        if spec.get("landlock"):
            _landlock(spec["landlock"])
        if spec.get("seccomp"):
            RECORDER = _load("seccomp_notify").DenialRecorder(base64.b64decode(spec["seccomp"]))
    except OSError as exc:
        sys.stdout.write(json.dumps({"ready": False, "error": f"confinement failed: {exc}"}) + "\n")
        sys.stdout.flush()
        os._exit(SHIM_FAILED)
    sys.stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            reply = _run(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply, never a crash
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
