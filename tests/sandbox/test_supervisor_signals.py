"""No command can signal its warm sandbox's supervisor (same uid): every way the kernel
lets one process signal another is refused when it aims at the supervisor, its threads,
init or everyone; each attack's control, without the guard, kills the supervisor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.shim import signal_guard
from sentinel.sandbox.syscall_table import NUMBERS
from sentinel.sandbox.warm import GUARD_NUMBERS, Sandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
PRELUDE = (
    "import ctypes, errno, fcntl, os, signal, sys, time\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "sup = os.getppid()\n"
    "def report(what, fn):\n"
    "    try:\n"
    "        fn()\n"
    "    except OSError as exc:\n"
    "        print(what, errno.errorcode[exc.errno]); sys.exit(0)\n"
    "    time.sleep(1); print(what, 'sent')\n"
    "def sys_(nr, *args):\n"
    "    if libc.syscall(nr, *args) < 0:\n"
    "        raise OSError(ctypes.get_errno(), 'syscall')\n"
)
ATTACKS = {
    "kill": "report('kill', lambda: os.kill(sup, signal.SIGKILL))",
    "kill-group": "report('kill-group', lambda: os.kill(-os.getpgid(sup), signal.SIGKILL))",
    "kill-all": "report('kill-all', lambda: os.kill(-1, signal.SIGKILL))",
    "kill-init": "report('kill-init', lambda: os.kill(1, signal.SIGKILL))",
    "kill-thread": (
        "tids = [int(t) for t in os.listdir(f'/proc/{sup}/task') if int(t) != sup]\n"
        "assert tids, 'the supervisor has no thread to aim at'\n"
        "report('kill-thread', lambda: os.kill(tids[0], signal.SIGKILL))"
    ),
    "tgkill-thread": (
        "tids = [int(t) for t in os.listdir(f'/proc/{sup}/task') if int(t) != sup]\n"
        "assert tids, 'the supervisor has no thread to aim at'\n"
        f"report('tgkill', lambda: sys_({NUMBERS['tgkill']}, sup, tids[0], 9))"
    ),
    "tkill": f"report('tkill', lambda: sys_({NUMBERS['tkill']}, sup, 9))",
    "sigqueue": f"report('sigqueue', lambda: sys_({NUMBERS['rt_sigqueueinfo']}, sup, 9, "
    "ctypes.create_string_buffer(128)))",
    "pidfd": (
        f"def go():\n    fd = os.pidfd_open(sup)\n"
        f"    sys_({NUMBERS['pidfd_send_signal']}, fd, 9, None, 0)\n"
        "report('pidfd', go)"
    ),
    "proc-pidfd": (
        f"def go():\n    fd = os.open(f'/proc/{{sup}}', os.O_RDONLY | os.O_DIRECTORY)\n"
        f"    sys_({NUMBERS['pidfd_send_signal']}, fd, 9, None, 0)\n"
        "report('proc-pidfd', go)"
    ),
    "sigio-owner": (
        "def go():\n"
        "    r, w = os.pipe()\n"
        "    fcntl.fcntl(r, fcntl.F_SETOWN, sup)\n"
        "    fcntl.fcntl(r, 10, signal.SIGKILL)  # F_SETSIG\n"
        "    fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)\n"
        "    os.write(w, b'x')\n"
        "report('sigio', go)"
    ),
}  # fmt: skip


@pytest.fixture
def make(sandbox_base: Path) -> Iterator[list[Sandbox]]:
    made: list[Sandbox] = []
    yield made
    for sandbox in made:
        sandbox.close()


def _attack(made: list[Sandbox], base: Path, name: str, *, guard: bool) -> tuple[str, Sandbox]:
    sandbox = Sandbox(POLICY, f"sig-{name}-{guard}", workspace=base / f"ws-{name}-{guard}",
                      guard_supervisor=guard)  # fmt: skip
    made.append(sandbox)
    assert sandbox.run(["true"]).exit_code == 0
    result = sandbox.run(["python3", "-c", PRELUDE + ATTACKS[name]], timeout=5)
    return result.stdout.decode() + result.stderr.decode(), sandbox


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_command_cannot_signal_its_supervisor(
    name: str, sandbox_base: Path, make: list[Sandbox]
) -> None:
    output, sandbox = _attack(make, sandbox_base, name, guard=True)
    assert output.split()[-1:] == ["EPERM"], output
    assert sandbox.run(["echo", "next"]).stdout == b"next\n"
    assert sandbox.starts == 1  # the same supervisor answered


CONTROLS = ["kill", "kill-all", "kill-thread", "pidfd", "proc-pidfd", "sigio-owner", "tkill"]
"""Attacks that kill the supervisor outright without the guard (kill-init takes bwrap's
init and so the sandbox; the others are spellings of these)."""


@pytest.mark.parametrize("name", CONTROLS)
def test_control_without_the_guard_the_signal_lands(
    name: str, sandbox_base: Path, make: list[Sandbox]
) -> None:
    _, sandbox = _attack(make, sandbox_base, name, guard=False)
    assert sandbox.run(["echo", "next"]).stdout == b"next\n"
    assert sandbox.starts == 2  # the supervisor died: the sandbox was rebuilt


def test_the_program_refuses_exactly_the_targets() -> None:
    numbers = {name: NUMBERS[name] for name in GUARD_NUMBERS}
    code = signal_guard.program(0xC000003E, numbers, [2, 7])
    assert len(code) % 8 == 0 and len(code) // 8 < 100
    assert signal_guard._bad_targets([2, 7]) == sorted({2, 7, 0xFFFFFFFE, 0xFFFFFFF9, 0xFFFFFFFF})
