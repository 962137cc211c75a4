"""The probe's programs can be detached and attached again while its maps stay.

What ``sentinel-run probe overhead`` switches to time the main job with and without the
programs in one run (:mod:`sentinel.probes.overhead`). Detached, the kernel runs none of
them: a watched group's processes are neither recorded nor counted; attached again, the
same group is, under the same slot and on top of the same totals (the control).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.errors import ProbeUnavailable
from sentinel.probes import ProbeSession
from sentinel.probes.session import agent_of_group
from tests.probes.watched_group import in_group, watched_group

pytestmark = pytest.mark.host

OPENS = (
    "import os\nfor i in range(10): os.close(os.open(f'f-{i}', os.O_WRONLY | os.O_CREAT, 0o600))"
)


@pytest.fixture
def watched() -> Iterator[tuple[ProbeSession, Path, str]]:
    with watched_group("switch") as found:
        yield found


def _attached(session: ProbeSession) -> bool:
    """Read afresh each time (a property read would be narrowed once by a type checker)."""
    return session.attached


def _write_opens(session: ProbeSession, group: Path) -> int:
    totals = session.totals().get(agent_of_group(group.name))
    return 0 if totals is None else totals.write_opens


def test_detached_programs_see_nothing_and_attached_again_they_do(
    watched: tuple[ProbeSession, Path, str], tmp_path: Path
) -> None:
    session, group, _ = watched
    assert _attached(session)
    in_group(group, OPENS, tmp_path)  # the control first: attached, the opens are seen
    seen = _write_opens(session, group)
    assert seen >= 10 and session.poll()

    session.set_attached(False)
    assert not _attached(session)
    in_group(group, OPENS, tmp_path)
    assert _write_opens(session, group) == seen, "a detached program counted"
    assert session.poll() == [], "a detached program recorded"

    session.set_attached(True)
    assert _attached(session)
    in_group(group, OPENS, tmp_path)
    assert _write_opens(session, group) >= seen + 10
    records = session.poll()
    assert sum(r.kind.name == "OPEN_WRITE" for r in records) >= 10
    assert {session.agent(r.slot) for r in records} == {agent_of_group(group.name)}


def test_switching_twice_the_same_way_is_a_no_op(
    watched: tuple[ProbeSession, Path, str], tmp_path: Path
) -> None:
    session, group, _ = watched
    session.set_attached(True)
    session.set_attached(False)
    session.set_attached(False)
    assert not _attached(session)
    session.set_attached(True)
    in_group(group, OPENS, tmp_path)
    assert _write_opens(session, group) >= 10


def test_a_closed_session_cannot_be_switched() -> None:
    session = ProbeSession(follow_sandboxes=False)
    session.close()
    assert not _attached(session)
    with pytest.raises(ProbeUnavailable, match="closed"):
        session.set_attached(True)
