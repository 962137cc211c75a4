"""The WASI tools an agent may hold, shipped as hand-written WebAssembly text.

Each tool is a ``<name>.wat`` file in this package; with the shared ``prelude.wat`` (WASI
imports, argument, file and number helpers) it forms one module that Wasmtime compiles when
the tool is first used, so nothing is fetched or built at run time. Agents name a tool as
``wasm:<name>`` (a persona capability and a ``tool_use`` target); the arguments are the
action's content. Importing this catalog does not import Wasmtime.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

WASI_PREFIX: Final = "wasm:"
"""How a tool_use target and a persona capability name a WASI tool."""
TOOLS: Final = {
    "wc": "lines, words and bytes of workspace files",
    "crc32": "CRC-32 and size of workspace files",
    "grep": "lines of workspace files that contain a fixed string",
}
"""Name and one-line purpose of every shipped tool."""


def wasi_tool(target: str | None) -> str | None:
    """The tool name of a ``wasm:<name>`` target, or None when ``target`` names no WASI tool."""
    if target is None or not target.startswith(WASI_PREFIX):
        return None
    return target.removeprefix(WASI_PREFIX)


def module_text(name: str) -> str:
    """The WebAssembly text of tool ``name`` (prelude and tool in one module).

    Raises:
        KeyError: No such tool.
    """
    if name not in TOOLS:
        raise KeyError(name)
    package = resources.files(__name__)
    prelude = package.joinpath("prelude.wat").read_text(encoding="utf-8")
    body = package.joinpath(f"{name}.wat").read_text(encoding="utf-8")
    return f"(module\n{prelude}\n{body}\n)\n"
