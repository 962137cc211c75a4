"""The shell commands of work: write a file, open a ticket, run a ticket's CI.

All of them run with ``sh -c`` in the agent's sandbox, so what they do is audited as any
other command (``sandbox.executed``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

CI_RUNNER: Final = (
    "import sys, unittest; "
    "r = unittest.TextTestRunner(stream=open('/dev/null', 'w')).run("
    "unittest.defaultTestLoader.discover('.')); "
    "print('tests run=%d failed=%d' % (r.testsRun, len(r.failures) + len(r.errors))); "
    "sys.exit(0 if r.wasSuccessful() and r.testsRun else 1)"
)
"""One summary line first: tool output is cut at 400 characters, a traceback would push it out.
A folder without a test fails: a ticket is done only when tests ran and passed."""
_TESTS: Final = re.compile(r"tests run=(\d+) failed=(\d+)")
_FILES: Final = re.compile(r"(\d+) files? changed")


def write_command(path: str, text: str) -> str:
    """``mkdir -p`` the folder and write ``text`` to ``path`` (one ``printf`` argument a line)."""
    folder = path.rsplit("/", 1)[0] if "/" in path else "."
    lines = " ".join(shlex.quote(line) for line in text.splitlines())
    return f"mkdir -p {shlex.quote(folder)} && printf '%s\\n' {lines} > {shlex.quote(path)}"


def setup_command(folder: str, files: Mapping[str, str], message: str) -> str:
    """Write the ticket's starting files and commit them."""
    writes = " && ".join(write_command(path, text) for path, text in files.items())
    return (
        f"{writes} && git add -A {shlex.quote(folder)} && git commit -q -m {shlex.quote(message)}"
    )


def ci_command(folder: str, message: str) -> str:
    """Run the folder's unit tests; when they pass, commit the folder and print its stat."""
    return (
        f"(cd {shlex.quote(folder)} && PYTHONDONTWRITEBYTECODE=1 python3 -B -c "
        f"{shlex.quote(CI_RUNNER)}) && git add -A {shlex.quote(folder)} && "
        f"git commit -q -m {shlex.quote(message)} && git show --shortstat --format= HEAD"
    )


@dataclass(frozen=True)
class CiReport:
    """What a CI run's output says."""

    tests_run: int
    tests_failed: int
    files_changed: int


def read_ci(output: str) -> CiReport:
    """Parse a CI run's output (zeros for what it does not say, e.g. a killed run)."""
    tests = _TESTS.search(output)
    files = _FILES.search(output)
    run, failed = (int(tests[1]), int(tests[2])) if tests else (0, 0)
    return CiReport(run, failed, int(files[1]) if files else 0)
