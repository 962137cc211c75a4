"""Every command's ``--help`` renders as plain text: no reStructuredText markup leaks."""

from __future__ import annotations

import re
from typing import Any

import typer.main
from typer.testing import CliRunner

from sentinel.cli import app

RST_ARTIFACTS = re.compile(r"``|::|:class:|:func:|:data:")
"""Double backquotes, literal-block markers and Sphinx roles."""


def _commands(group: Any, prefix: list[str]) -> list[list[str]]:
    """Every command path, lazy ones included (listed and loaded as a user's --help would)."""
    found = [prefix]
    context = typer.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if hasattr(command, "commands"):  # a group (Typer may bring its own click)
            found.extend(_commands(command, [*prefix, name]))
        else:
            found.append([*prefix, name])
    return found


def test_every_help_text_is_free_of_rst_markup() -> None:
    root = typer.main.get_command(app)
    paths = _commands(root, [])
    assert len(paths) > 10
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert not RST_ARTIFACTS.search(result.output), (path, result.output)
