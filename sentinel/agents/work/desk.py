"""The work desk of a run: hands out tickets, opens them, runs their CI, counts the work.

The runtime asks :meth:`WorkDesk.take` for an agent's next ticket when its task is due,
sends the ticket through the gateway like any request (the answer's ``tool_use`` actions
are governed there and run in the agent's sandbox), calls :meth:`WorkDesk.open` before the
answer's actions run (the ticket's starting files, committed) and :meth:`WorkDesk.close`
after them (the tests, and a commit when they pass). Every command goes through the
runtime's ``run`` callback, so it is recorded as a ``runtime.tool_result`` and a replay
returns the recorded outcome instead of running it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from sentinel.agents.work.backlog import Backlog, Ticket, desk_of
from sentinel.agents.work.commands import ci_command, read_ci, setup_command

WORK_INTERVAL_TICKS: Final = 2700
"""An agent takes a ticket every 45 simulated minutes (ours: ~10 a shift, as before)."""
TASK_MAX_TOKENS: Final = 4096
"""A ticket's answer writes whole files (a module and its tests, ~2-6 KB as shell commands);
the gateway's default of 512 tokens would cut it (ours; far below the output limit)."""
SETUP_TOOL: Final = "ticket"
CI_TOOL: Final = "ci"
"""The tools of the desk's own commands in ``runtime.tool_result`` (not the agent's)."""

Run = Callable[[str, str], tuple[int | None, str]]
"""``run(tool, command)`` -> ``(exit_code, output)``: runs and records one command."""


@dataclass
class WorkDesk:
    """The backlog of every desk and what the run's tickets came to."""

    seed: int
    roles: dict[str, str]
    """Agent id -> role."""
    writers: frozenset[str]
    """Agents that may write files (the gateway's ``fs`` capability): only they get tickets."""
    counters: Counter[str] = field(default_factory=Counter)
    shapes_done: Counter[str] = field(default_factory=Counter)
    open_tickets: dict[str, Ticket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backlog = Backlog(self.seed)

    def take(self, agent_id: str) -> Ticket | None:
        """The agent's next ticket (None: it does not write files or its desk has none)."""
        if agent_id not in self.writers:
            return None
        ticket = self.backlog.take(desk_of(self.roles.get(agent_id, "")))
        if ticket is not None:
            self.open_tickets[agent_id] = ticket
            self.counters["tasks"] += 1
        return ticket

    def open(self, agent_id: str, run: Run) -> bool:
        """Write and commit the agent's ticket's starting files; False if that failed."""
        ticket = self.open_tickets.get(agent_id)
        if ticket is None:
            return False
        files = ticket.setup()
        if not files:
            return True
        message = f"{ticket.id}: opened ({ticket.shape.id})"
        code, _ = run(SETUP_TOOL, setup_command(ticket.folder, files, message))
        return code == 0

    def close(self, agent_id: str, answered: bool, run: Run) -> None:
        """Run the ticket's tests when the agent answered with work; count the outcome."""
        ticket = self.open_tickets.pop(agent_id, None)
        if ticket is None:
            return
        if not answered:
            self.counters["tasks_failed"] += 1
            return
        message = f"{ticket.id}: {ticket.shape.title}"
        code, output = run(CI_TOOL, ci_command(ticket.folder, message))
        report = read_ci(output)
        self.counters["tests_run"] += report.tests_run
        self.counters["tests_passed"] += report.tests_run - report.tests_failed
        if code == 0:
            self.counters["tasks_done"] += 1
            self.counters["commits"] += 1
            self.counters["files_changed"] += report.files_changed
            self.shapes_done[ticket.shape.id] += 1
        else:
            self.counters["tasks_failed"] += 1

    def summary(self) -> dict[str, int]:
        """Tasks, done, failed, commits, tests run and passed, files changed, shapes done."""
        keys: Iterable[str] = (
            "tasks", "tasks_done", "tasks_failed", "commits", "tests_run", "tests_passed",
            "files_changed",
        )  # fmt: skip
        found = {key: self.counters[key] for key in keys}
        found["shapes_done"] = len(self.shapes_done)
        return found
