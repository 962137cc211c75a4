"""The work catalogue, backlogs, tickets, CI and the offline provider's answers, for real.

Every shape's solution is run with its own tests (``python3 -m unittest``) in a temporary
folder; every ``fix:`` shape's starting files fail their tests (the negative control).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.agents.work import SHAPES, Backlog, Shape, WorkDesk, desk_of, parse_ticket
from sentinel.agents.work.backlog import DESK_BY_ROLE, Ticket
from sentinel.agents.work.commands import ci_command, read_ci, setup_command, write_command
from sentinel.agents.work.shapes import BY_ID
from sentinel.gateway.persona import DEMO_PERSONAS
from sentinel.gateway.providers.offline import OfflineProvider

MIN_SHAPES = 40
"""Issue 14: at least 40 task shapes in the catalogue."""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _unittest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-B", "-m", "unittest", "-q"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True).stdout


def test_the_catalogue_is_large_and_fits_every_desk() -> None:
    assert len(SHAPES) >= MIN_SHAPES and len(BY_ID) == len(SHAPES)
    kinds = {shape.kind for shape in SHAPES}
    assert {
        "implement",
        "fix",
        "test",
        "refactor",
        "docs",
        "review",
        "sql",
        "data",
        "shell",
    } <= kinds
    for desk in {*DESK_BY_ROLE.values(), desk_of("Works Council Chair")}:
        assert any(desk in shape.desks for shape in SHAPES), desk


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_every_solution_passes_its_tests(shape: Shape, tmp_path: Path) -> None:
    _write(tmp_path, shape.setup(11))
    if shape.kind == "fix":  # the ticket starts red: its tests fail before the fix
        assert _unittest(tmp_path).returncode != 0
    _write(tmp_path, shape.solution(11))
    result = _unittest(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Ran 0 tests" not in result.stderr


def test_the_backlog_is_seeded_and_cycles_the_desks_catalogue() -> None:
    def draws(seed: int, desk: str, count: int) -> list[str]:
        backlog = Backlog(seed)
        return [t.shape.id for t in (backlog.take(desk) for _ in range(count)) if t]

    fits = sum("dev" in shape.desks for shape in SHAPES)
    first = draws(3, "dev", fits)
    assert first == draws(3, "dev", fits) and first != draws(4, "dev", fits)
    assert sorted(first) == sorted(s.id for s in SHAPES if "dev" in s.desks)  # no repeats
    assert Backlog(3).take("nobody-works-here") is None


def test_a_ticket_names_its_shape_seed_and_folder() -> None:
    ticket = Backlog(5).take("sales")
    assert ticket is not None and ticket.id == "SALES-001"
    assert parse_ticket(ticket.prompt) == (ticket.shape, ticket.seed, ticket.folder)
    assert parse_ticket("Ticket X [ticket fix:nothing seed=1 dir=work/x]") is None
    assert parse_ticket("Ticket X [ticket fix:median seed=1 dir=work/../etc]") is None
    assert parse_ticket("Let's run to the kitchen.") is None


def test_the_offline_provider_writes_a_tickets_solution(tmp_path: Path) -> None:
    developer, designer, _ = DEMO_PERSONAS
    ticket = Ticket("DEV-001", BY_ID["fix:median"], 9, "work/dev-001")
    _write(tmp_path, ticket.setup())
    actions = OfflineProvider().answer(developer, ticket.prompt)
    assert {a["target"] for a in actions} == {"fs"}
    for action in actions:
        subprocess.run(["sh", "-c", action["content"]], cwd=tmp_path, check=True)
    assert _unittest(tmp_path / ticket.folder).returncode == 0
    refusal = OfflineProvider().answer(designer, ticket.prompt)  # holds no tools
    assert [a["action_type"] for a in refusal] == ["chat"]


def test_write_command_keeps_every_character(tmp_path: Path) -> None:
    text = "a 'quoted' $HOME `x` %s\\n\n\n  indented\n"
    subprocess.run(["sh", "-c", write_command("d/f.txt", text)], cwd=tmp_path, check=True)
    assert (tmp_path / "d/f.txt").read_text() == text


def test_ci_commits_only_when_the_tests_pass(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    env_git = "git -c user.name=t -c user.email=t@example.org"
    shape = BY_ID["fix:clamp"]
    setup = setup_command("w", {f"w/{k}": v for k, v in shape.setup(1).items()}, "opened")
    subprocess.run(["sh", "-c", setup.replace("git ", f"{env_git} ")], cwd=tmp_path, check=True)
    red = subprocess.run(
        ["sh", "-c", ci_command("w", "done").replace("git ", f"{env_git} ")],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert red.returncode != 0
    assert read_ci(red.stdout).tests_failed > 0
    assert _git(tmp_path, "log", "--format=%s").split() == ["opened"]
    _write(tmp_path / "w", shape.solution(1))
    green = subprocess.run(
        ["sh", "-c", ci_command("w", "done").replace("git ", f"{env_git} ")],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = read_ci(green.stdout)
    assert report.tests_run == 3 and report.tests_failed == 0 and report.files_changed == 1
    assert _git(tmp_path, "log", "--format=%s").split() == ["done", "opened"]
    assert not list(tmp_path.rglob("__pycache__"))  # nothing but the work is committed


def test_read_ci_says_zero_for_what_it_does_not_see() -> None:
    assert read_ci("killed") == read_ci("")
    assert read_ci("tests run=4 failed=1\n 2 files changed, 9 insertions(+)").files_changed == 2


def test_the_desk_counts_done_failed_and_refused_tickets() -> None:
    desk = WorkDesk(1, {"A": "Developer", "B": "Designer"}, frozenset({"A"}))
    assert desk.take("B") is None  # cannot write files
    ci_results = iter([(0, "tests run=2 failed=0\n 1 file changed"), (1, "tests run=2 failed=1")])
    commands: list[str] = []

    def run(tool: str, command: str) -> tuple[int | None, str]:
        commands.append(tool)
        return next(ci_results) if tool == "ci" else (0, "")

    for _ in range(2):
        assert desk.take("A") is not None
        assert desk.open("A", run)
        desk.close("A", answered=True, run=run)
    assert desk.take("A") is not None
    desk.close("A", answered=False, run=run)  # refused by the gateway: no CI
    assert commands.count("ci") == 2
    assert desk.summary() == {
        "tasks": 3, "tasks_done": 1, "tasks_failed": 2, "commits": 1, "tests_run": 4,
        "tests_passed": 3, "files_changed": 1, "shapes_done": 1,
    }  # fmt: skip
