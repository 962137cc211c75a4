"""A command group that imports a command's module only when that command runs.

``sentinel-run sandbox exec`` must not pay for the gateway, the audit analytics (duckdb,
pyarrow), the world (numpy) or the breakout suite: each top-level command names the module
and attribute that defines it, and the module is imported when the command is resolved
(its help listing imports them all, which is fine for help).
"""

from __future__ import annotations

import importlib
from typing import Final

import typer
import typer.main
from typer._click import Command, Context
from typer.core import DEFAULT_MARKUP_MODE, TyperGroup
from typer.models import CommandInfo

LAZY_COMMANDS: Final = {
    "doctor": ("sentinel.cli.doctor", "doctor"),
    "audit": ("sentinel.cli.audit", "app"),
    "sandbox": ("sentinel.cli.sandbox", "app"),
    "gateway": ("sentinel.cli.gateway", "app"),
    "gaia": ("sentinel.cli.gaia", "app"),
    "world": ("sentinel.cli.world", "app"),
    "breakout": ("sentinel.cli.breakout", "breakout_command"),
    "run": ("sentinel.cli.run", "run_command"),
    "replay": ("sentinel.cli.run", "replay_command"),
    "control": ("sentinel.cli.control", "app"),
    "judge": ("sentinel.cli.judge", "judge_command"),
    "nightrun": ("sentinel.cli.nightrun", "nightrun_command"),
    "bus": ("sentinel.cli.bus", "app"),
    "dashboard": ("sentinel.cli.dashboard", "dashboard_command"),
    "probe": ("sentinel.cli.probe", "app"),
    "workspace": ("sentinel.cli.workspace", "app"),
}
"""Top-level command name: (module, attribute), a Typer sub-app or a command function."""


def load_command(name: str) -> Command:
    """The click command of lazy command ``name``, importing its module now."""
    module_name, attribute = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=target),
        pretty_exceptions_short=True,
        rich_markup_mode=DEFAULT_MARKUP_MODE,
    )


class LazyGroup(TyperGroup):
    """The root group: eager commands as usual, :data:`LAZY_COMMANDS` on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Lazy commands first (in their order), then the eager ones."""
        eager = [name for name in super().list_commands(ctx) if name not in LAZY_COMMANDS]
        return [*LAZY_COMMANDS, *eager]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command, its module imported on first use."""
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)
