"""A cgroup v2 group a probe session watches, and a way to run code inside it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinel.probes import ProbeSession
from sentinel.probes.session import agent_of_group
from tests.probes.cgroup_root import v2_root


def probe_threads() -> list[str]:
    """The thread ids of this process's native probe threads (named ``sentinel-probe``)."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "sentinel-probe":
                found.append(task.name)
        except OSError:
            continue  # the thread ended while listed
    return found


@contextmanager
def watched_group(purpose: str) -> Iterator[tuple[ProbeSession, Path, str]]:
    """A new session watching a new group (unique name, removed after): session, group and
    the session's thread id."""
    group = v2_root() / f"sentinel-{purpose}-{uuid.uuid4().hex[:8]}-0000abcd"
    before = probe_threads()
    session = ProbeSession(follow_sandboxes=False)
    try:
        group.mkdir()
        try:
            session.watch(agent_of_group(group.name), group)
            (tid,) = set(probe_threads()) - set(before)
            yield session, group, tid
        finally:
            group.rmdir()
    finally:
        session.close()


def in_group(group: Path, code: str, cwd: Path) -> None:
    """Run ``code`` in a Python that joined ``group`` first."""
    joined = subprocess.run(
        ["sh", "-ec", f'echo $$ > {group}/cgroup.procs; exec "$0" -c "$1"', sys.executable, code],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert joined.returncode == 0, joined.stderr
