"""Real, varied office work: a seeded catalogue of task shapes, desk backlogs, CI and counts."""

from sentinel.agents.work.backlog import Backlog, Ticket, desk_of, parse_ticket, solution_files
from sentinel.agents.work.desk import WorkDesk
from sentinel.agents.work.shapes import SHAPES, Shape

__all__ = [
    "SHAPES",
    "Backlog",
    "Shape",
    "Ticket",
    "WorkDesk",
    "desk_of",
    "parse_ticket",
    "solution_files",
]
