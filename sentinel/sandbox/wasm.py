"""WASI tools in Wasmtime: fuel and memory limits, and only the workspace pre-opened.

A WebAssembly module sees no host at all except what WASI hands it: here the agent's
workspace (pre-opened as ``/``, read-only unless asked otherwise), its arguments, and
stdin/stdout/stderr. Fuel bounds the instructions it may execute (an infinite loop ends
with a clean ``fuel_exhausted`` violation), the store's memory limit bounds its linear
memory (``memory.grow`` fails beyond it; a module that traps there, or whose initial memory
is already beyond it, ends with a ``memory_limit`` violation), and nothing is inherited
from the launcher's environment. Every trap is a result with a violation, never an
exception: only a module that does not compile or has no ``_start`` raises.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Final

import wasmtime

from sentinel.errors import SandboxError
from sentinel.sandbox.result import ExecResult, Violation

DEFAULT_FUEL: Final = 2_000_000_000
"""About a few seconds of straight-line WebAssembly on the CI machine."""
DEFAULT_MEMORY_BYTES: Final = 64 << 20
DEFAULT_OUTPUT_BYTES: Final = 1 << 20
WASM_PAGE_BYTES: Final = 65536
"""The WebAssembly page size (the core specification's unit of ``memory.grow``)."""


def fuel_engine() -> wasmtime.Engine:
    """An engine that meters fuel (one per process is enough; modules compile against it)."""
    config = wasmtime.Config()
    config.consume_fuel = True
    return wasmtime.Engine(config)


def compile_module(engine: wasmtime.Engine, source: bytes | str) -> wasmtime.Module:
    """Compile WebAssembly bytes or text (WAT) for ``engine``.

    Raises:
        SandboxError: The module does not compile.
    """
    try:
        return wasmtime.Module(engine, source)
    except wasmtime.WasmtimeError as exc:
        raise SandboxError(f"the WASI module does not compile: {exc}") from None


class WasmTool:
    """A compiled WASI module that runs with limits, once per :meth:`run`.

    Args:
        module: The module as WebAssembly bytes or text (WAT), or a path to either, or a
            module already compiled for ``engine``.
        workspace: The only directory the module can see (as ``/``).
        fuel: Instructions (roughly) the module may execute per run.
        memory_bytes: Largest linear memory per run.
        max_output_bytes: stdout and stderr are cut beyond this.
        writable: Whether the module may change the workspace (read-only when False).
        engine: The fuel-metering engine ``module`` was compiled for (default: a new one).

    Raises:
        SandboxError: The module does not compile.
    """

    def __init__(
        self,
        module: bytes | str | Path | wasmtime.Module,
        *,
        workspace: Path,
        fuel: int = DEFAULT_FUEL,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
        writable: bool = True,
        engine: wasmtime.Engine | None = None,
    ) -> None:
        self.engine = engine if engine is not None else fuel_engine()
        if isinstance(module, wasmtime.Module):
            self.module = module
        else:
            source = Path(module).read_bytes() if isinstance(module, Path) else module
            self.module = compile_module(self.engine, source)
        self.workspace = workspace
        self.fuel = fuel
        self.memory_bytes = memory_bytes
        self.max_output_bytes = max_output_bytes
        self.writable = writable
        self.last_fuel_used = 0
        """Fuel the last run consumed."""

    def run(self, args: list[str] | None = None, *, stdin: bytes = b"") -> ExecResult:
        """Run the module's ``_start`` with ``args``; a fresh store (and limits) per run.

        Raises:
            SandboxError: The module has no ``_start`` function, or imports what WASI
                does not provide.
        """
        self.workspace.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        cpu_started = time.thread_time()
        with tempfile.TemporaryDirectory(prefix="sentinel-wasm-") as scratch:
            io = Path(scratch)
            (io / "stdin").write_bytes(stdin)
            wasi = wasmtime.WasiConfig()
            wasi.argv = ["tool", *(args or [])]
            wasi.env = []
            wasi.stdin_file = str(io / "stdin")
            wasi.stdout_file = str(io / "stdout")
            wasi.stderr_file = str(io / "stderr")
            wasi.preopen_dir(str(self.workspace), "/", self.writable)
            store = wasmtime.Store(self.engine)
            store.set_wasi(wasi)
            store.set_fuel(self.fuel)
            store.set_limits(memory_size=self.memory_bytes)
            linker = wasmtime.Linker(self.engine)
            linker.define_wasi()
            exit_code, violations = self._start(linker, store)
            out = (io / "stdout").read_bytes() if (io / "stdout").exists() else b""
            err = (io / "stderr").read_bytes() if (io / "stderr").exists() else b""
        self.last_fuel_used = self.fuel - store.get_fuel()
        truncated = len(out) + len(err) > self.max_output_bytes
        if truncated:
            violations = (
                *violations,
                Violation(
                    "wasmtime",
                    "output_limit",
                    f"output beyond {self.max_output_bytes} bytes; the rest was cut",
                ),
            )
        return ExecResult(
            exit_code=exit_code,
            signal=None,
            stdout=out[: self.max_output_bytes],
            stderr=err[: max(0, self.max_output_bytes - len(out))],
            truncated=truncated,
            timed_out=False,
            oom_killed=False,
            pids_limited=False,
            cpu_s=time.thread_time() - cpu_started,
            max_rss_bytes=0,
            duration_s=time.monotonic() - started,
            violations=violations,
            layers=("wasmtime",),
        )

    def _start(
        self, linker: wasmtime.Linker, store: wasmtime.Store
    ) -> tuple[int | None, tuple[Violation, ...]]:
        try:
            instance = linker.instantiate(store, self.module)
        except wasmtime.WasmtimeError as exc:
            if self._initial_memory_bytes() > self.memory_bytes:
                return None, (self._memory_violation("its initial linear memory"),)
            raise SandboxError(f"the WASI module cannot be instantiated: {exc}") from None
        exports = instance.exports(store)
        start = exports.get("_start")
        if not isinstance(start, wasmtime.Func):
            raise SandboxError("the WASI module has no _start function")
        try:
            start(store)
        except wasmtime.ExitTrap as exit_trap:
            return exit_trap.code, ()
        except wasmtime.Trap as trap:
            if trap.trap_code is wasmtime.TrapCode.OUT_OF_FUEL:
                return None, (
                    Violation("wasmtime", "fuel_exhausted", f"ran out of its {self.fuel} fuel"),
                )
            message = str(trap).splitlines()[0]
            memory = exports.get("memory")
            if (
                isinstance(memory, wasmtime.Memory)
                and memory.data_len(store) + WASM_PAGE_BYTES > self.memory_bytes
            ):
                # The trap came with the memory at its limit: a refused memory.grow ended it.
                return None, (self._memory_violation(f"a trap ({message}) with its memory"),)
            return None, (Violation("wasmtime", "trap", message),)
        return 0, ()

    def _initial_memory_bytes(self) -> int:
        """The sum of the module's own memories' minimum sizes."""
        pages = sum(
            export.type.limits.min
            for export in self.module.exports
            if isinstance(export.type, wasmtime.MemoryType)
        )
        return int(pages) * WASM_PAGE_BYTES

    def _memory_violation(self, what: str) -> Violation:
        return Violation(
            "wasmtime", "memory_limit", f"{what} reached the {self.memory_bytes}-byte limit"
        )
