"""WASI tools in Wasmtime: fuel and memory limits, and only the workspace pre-opened.

A WebAssembly module sees no host at all except what WASI hands it: here the agent's
workspace (pre-opened as ``/``), its arguments, and stdin/stdout/stderr. Fuel bounds the
instructions it may execute (an infinite loop ends with a clean ``fuel_exhausted``
violation), the store's memory limit bounds its linear memory (``memory.grow`` fails
beyond it), and nothing is inherited from the launcher's environment.
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


class WasmTool:
    """A compiled WASI module that runs with limits, once per :meth:`run`.

    Args:
        module: The module as WebAssembly bytes or text (WAT), or a path to either.
        workspace: The only directory the module can see (as ``/``).
        fuel: Instructions (roughly) the module may execute per run.
        memory_bytes: Largest linear memory per run.
        max_output_bytes: stdout and stderr are cut beyond this.

    Raises:
        SandboxError: The module does not compile.
    """

    def __init__(
        self,
        module: bytes | str | Path,
        *,
        workspace: Path,
        fuel: int = DEFAULT_FUEL,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
    ) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        self.engine = wasmtime.Engine(config)
        source = Path(module).read_bytes() if isinstance(module, Path) else module
        try:
            self.module = wasmtime.Module(self.engine, source)
        except wasmtime.WasmtimeError as exc:
            raise SandboxError(f"the WASI module does not compile: {exc}") from None
        self.workspace = workspace
        self.fuel = fuel
        self.memory_bytes = memory_bytes
        self.max_output_bytes = max_output_bytes
        self.last_fuel_used = 0
        """Fuel the last run consumed."""

    def run(self, args: list[str] | None = None, *, stdin: bytes = b"") -> ExecResult:
        """Run the module's ``_start`` with ``args``; a fresh store (and limits) per run."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="sentinel-wasm-") as scratch:
            io = Path(scratch)
            (io / "stdin").write_bytes(stdin)
            wasi = wasmtime.WasiConfig()
            wasi.argv = ["tool", *(args or [])]
            wasi.env = []
            wasi.stdin_file = str(io / "stdin")
            wasi.stdout_file = str(io / "stdout")
            wasi.stderr_file = str(io / "stderr")
            wasi.preopen_dir(str(self.workspace), "/")
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
        return ExecResult(
            exit_code=exit_code,
            signal=None,
            stdout=out[: self.max_output_bytes],
            stderr=err[: max(0, self.max_output_bytes - len(out))],
            truncated=truncated,
            timed_out=False,
            oom_killed=False,
            pids_limited=False,
            cpu_s=time.monotonic() - started,
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
            raise SandboxError(f"the WASI module cannot be instantiated: {exc}") from None
        start = instance.exports(store).get("_start")
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
            return None, (Violation("wasmtime", "trap", str(trap).splitlines()[0]),)
        return 0, ()
