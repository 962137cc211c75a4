"""A warm sandbox's failure is the failure of the command that ran, never the caller's.

Each test breaks a real warm sandbox from inside (the way a hostile command would) and
checks the command's result says what happened, the next command runs (in a rebuilt
sandbox where needed), and nothing the command left behind reaches the next one. Where
an attack is stopped by a mechanism, a control shows it works without that mechanism.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.sandbox.audit_events import record
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
LAYER_SETS = {
    "all": None,
    "no-landlock": ["bwrap", "seccomp", "cgroups", "netns"],
    "no-pid-namespace": ["landlock", "cgroups"],
}
"""The full stack; without Landlock; without bwrap (no pid namespace: the supervisor's
subreaper path kills leftovers)."""


def kinds(result: ExecResult) -> list[str]:
    return [v.kind for v in result.violations]


@pytest.fixture(params=list(LAYER_SETS))
def sandbox(request: pytest.FixtureRequest, sandbox_base: Path) -> Iterator[Sandbox]:
    layers = LAYER_SETS[request.param]
    with Sandbox(POLICY, f"F-{request.param}", workspace=sandbox_base / "ws", layers=layers) as s:
        assert s.run(["true"]).exit_code == 0
        yield s


@pytest.fixture(params=list(LAYER_SETS))
def unguarded(request: pytest.FixtureRequest, sandbox_base: Path) -> Iterator[Sandbox]:
    """A sandbox whose supervisor a command can signal (no signal guard): what a dying
    supervisor does to the command's result (the guard's own tests: test_supervisor_signals)."""
    layers = LAYER_SETS[request.param]
    workspace = sandbox_base / "ws"
    with Sandbox(POLICY, f"U-{request.param}", workspace=workspace, layers=layers,
                 guard_supervisor=False) as s:  # fmt: skip
        assert s.run(["true"]).exit_code == 0
        yield s


def test_a_command_that_kills_its_supervisor_is_killed_and_recorded(
    unguarded: Sandbox, tmp_path: Path
) -> None:
    sandbox = unguarded
    argv = ["sh", "-c", "kill -KILL $PPID; sleep 5; echo survived"]
    result = sandbox.run(argv)
    assert result.exit_code is None and result.signal == 9
    assert b"survived" not in result.stdout
    assert "supervisor_died" in kinds(result)
    with AuditStore(tmp_path / "audit.db") as store:
        record(store, sandbox.agent_id, argv, result, tick=3)
        events = list(store.read(stream=f"agent/{sandbox.agent_id}"))
    assert [e.type for e in events] == ["sandbox.executed", "sandbox.violation"]
    assert events[1].payload["layer"] == "runner"
    assert "supervisor died" in events[1].payload["detail"]
    after = sandbox.run(["echo", "next"])
    assert after.stdout == b"next\n" and after.violations == () and sandbox.starts == 2


def test_a_command_that_stops_its_supervisor_times_out(unguarded: Sandbox) -> None:
    sandbox = unguarded
    started = time.monotonic()
    result = sandbox.run(["sh", "-c", "kill -STOP $PPID; echo stopped"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert result.timed_out and result.signal == 9
    assert kinds(result) == ["timeout", "supervisor_unresponsive"]
    assert sandbox.run(["echo", "next"]).stdout == b"next\n" and sandbox.starts == 2


def test_a_command_that_closes_its_output_still_times_out(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = sandbox.run(["sh", "-c", "exec >&- 2>&- </dev/null; sleep 30"], timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 2.5
    assert result.timed_out and result.signal == 9 and kinds(result) == ["timeout"]
    assert sandbox.run(["echo", "next"]).stdout == b"next\n" and sandbox.starts == 1


def test_output_floods_are_cut_and_the_supervisor_stays(sandbox: Sandbox) -> None:
    for stream in ("", ">&2"):
        flood = sandbox.run(["sh", "-c", f"yes {stream}"], timeout=10)
        assert flood.truncated and flood.signal == 9 and "output_limit" in kinds(flood)
        assert len(flood.stdout) + len(flood.stderr) == POLICY.resources.max_output_bytes
    assert sandbox.run(["echo", "next"]).stdout == b"next\n" and sandbox.starts == 1


def test_descriptor_exhaustion_stays_in_the_command(sandbox: Sandbox) -> None:
    code = "import os\nfds = []\nwhile True: fds.append(os.open('/dev/null', os.O_RDONLY))"
    exhausted = sandbox.run(["python3", "-c", code])
    assert exhausted.exit_code == 1 and b"Too many open files" in exhausted.stderr
    assert sandbox.run(["echo", "next"]).stdout == b"next\n" and sandbox.starts == 1


def _sleepers(sandbox: Sandbox, marker: str) -> list[str]:
    listing = sandbox.run(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo"])
    return [word for word in listing.stdout.decode().split() if word == marker]


def test_what_a_command_leaves_behind_is_killed_when_it_ends(sandbox: Sandbox) -> None:
    marker = f"{uuid.uuid4().int % 1000}.75"
    detach = (
        f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & "
        f"(sleep {marker} &) ; sleep {marker} & echo left"
    )
    started = time.monotonic()
    result = sandbox.run(["sh", "-c", detach], timeout=10)
    assert time.monotonic() - started < 2  # not held until its children end or time out
    assert result.stdout == b"left\n" and result.exit_code == 0 and not result.timed_out
    assert _sleepers(sandbox, marker) == []
    # A sandbox whose leftovers held its pids would refuse the next command's forks.
    hold = POLICY.resources.pids + 5
    held = sandbox.run(["sh", "-c", f"for i in $(seq {hold}); do sleep 60 & done; exit 0"])
    assert held.pids_limited
    forks = sandbox.run(["sh", "-c", "for i in 1 2 3 4 5; do sleep 0.01 & done; wait; echo ok"])
    assert forks.stdout == b"ok\n" and not forks.pids_limited and sandbox.starts == 1


ATTACKER = r"""
import os, sys, time
marker, secret_sink = sys.argv[1], sys.argv[2]
if os.fork():
    sys.exit(0)
os.setsid()
if os.fork():
    os._exit(0)
for fd in (0, 1, 2):
    os.dup2(os.open("/dev/null", os.O_RDWR), fd)
end = time.time() + 10
while time.time() < end:
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
            if not command.startswith(b"sh\0") or marker.encode() not in command:
                continue  # not the victim (the attacker's own first process has the marker)
            victim_out = os.open(f"/proc/{pid}/fd/1", os.O_WRONLY)
            os.write(victim_out, b"FORGED\n")
            victim_in = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
            stolen = os.read(victim_in, 100)
            with open(secret_sink, "wb") as sink:
                sink.write(stolen)
            os._exit(0)
        except OSError:
            continue
    time.sleep(0.005)
"""
VICTIM = "sleep 0.5; cat; echo real {marker}"
NAIVE_SUPERVISOR = r"""
import subprocess, sys
attacker, victim, marker, sink = sys.argv[1:]
subprocess.run(["python3", "-c", attacker, marker, sink], capture_output=True,
               start_new_session=True, check=True)
done = subprocess.run(["sh", "-c", victim], input=b"secret-input", capture_output=True,
                      start_new_session=True)
sys.stdout.buffer.write(done.stdout)
"""
"""The control's supervisor: each command in its own session with its own pipes, all
as one uid, but nothing kills what a command leaves behind."""


def test_a_leftover_cannot_forge_the_next_commands_output(sandbox: Sandbox) -> None:
    marker = uuid.uuid4().hex
    sink = sandbox._workspace / "stolen"
    first = sandbox.run(["python3", "-c", ATTACKER, marker, str(sink)], timeout=10)
    assert first.exit_code == 0
    victim = sandbox.run(
        ["sh", "-c", VICTIM.format(marker=marker)], stdin=b"secret-input", timeout=10
    )
    assert victim.stdout == f"secret-inputreal {marker}\n".encode()
    assert not sink.exists()


def test_control_a_leftover_forges_output_when_it_survives(sandbox_base: Path) -> None:
    """The same two commands under a supervisor that gives each its own session and pipes
    but leaves what the first left behind running: the attacker forges and steals."""
    workspace = sandbox_base / "control"
    workspace.mkdir()
    os.chown(workspace, 65534, 65534)
    marker = uuid.uuid4().hex
    sink = workspace / "stolen"

    def drop() -> None:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)

    done = subprocess.run(
        ["/usr/bin/python3", "-c", NAIVE_SUPERVISOR, ATTACKER, VICTIM.format(marker=marker),
         marker, str(sink)],
        capture_output=True, cwd=workspace, timeout=20, check=True,
        env={"PATH": "/usr/bin:/bin"}, preexec_fn=drop,
    )  # fmt: skip
    assert b"FORGED" in done.stdout
    assert sink.read_bytes() == b"secret-input"


def test_the_supervisors_channel_is_out_of_reach(sandbox: Sandbox) -> None:
    """A command cannot open its supervisor's pipes through /proc (they are the root
    launcher's, and the supervisor is not dumpable); the control: the same open on the
    pipe of a process of the same uid that made its own pipe succeeds."""
    code = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '5'], stdout=subprocess.PIPE)\n"
        "for pid in (child.pid, os.getppid()):\n"
        "    try:\n"
        "        os.open(f'/proc/{pid}/fd/1', os.O_WRONLY); print('opened')\n"
        "    except OSError as exc: print(exc.strerror)\n"
        "child.kill()\n"
    )
    result = sandbox.run(["python3", "-c", code])
    assert result.stdout.decode().split("\n")[:2] == ["opened", "Permission denied"]


def test_garbage_on_the_channel_is_the_commands_result(sandbox: Sandbox) -> None:
    """Whatever reaches the host on the channel that is not the reply to its request (here
    written by root into the pipe) costs the command its result, never the caller's run."""
    for garbage in (b"not json\n", b'{"id": "forged", "exit_code": 0}\n', b"[1, 2]\n"):
        launch = sandbox._launch
        assert launch is not None and launch.process is not None
        fd = os.open(f"/proc/{launch.process.pid}/fd/1", os.O_WRONLY)  # bwrap holds it too
        os.write(fd, garbage)
        os.close(fd)
        result = sandbox.run(["echo", "hello"])
        assert result.signal == 9 and "supervisor_protocol" in kinds(result)
        assert sandbox.run(["echo", "next"]).stdout == b"next\n"
    assert sandbox.starts == 4


@pytest.mark.parametrize("layers", list(LAYER_SETS.values()), ids=list(LAYER_SETS))
def test_a_cold_command_that_closes_its_output_still_times_out(
    sandbox_base: Path, layers: list[str] | None
) -> None:
    started = time.monotonic()
    result = run_once(
        POLICY, ["sh", "-c", "exec >&- 2>&- </dev/null; sleep 30"],
        workspace=sandbox_base / "cold", timeout=0.5, layers=layers,
    )  # fmt: skip
    assert time.monotonic() - started < 3
    assert result.timed_out and result.signal == 9
