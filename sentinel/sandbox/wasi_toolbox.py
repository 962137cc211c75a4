"""An agent's WASI tools, run in Wasmtime with the fuel and memory of the sandbox policy.

One :class:`WasiToolbox` per run: a single fuel-metering engine, each tool compiled from its
shipped WebAssembly text on first use. A call pre-opens the agent's workspace read-only as
``/``; fuel exhaustion, the memory limit and any other trap come back as the result's
violations (recorded as ``sandbox.violation`` events like every other layer's), never as an
exception.

Wasmtime runs in the launcher's process, so a host call that blocks (the shipped tools
refuse FIFOs, the classic way to make an open wait forever) would hold the run: each call
runs in a thread of its own, and one that has not finished within the policy's wall-clock
limit comes back as a timed-out result, its thread abandoned (it ends when the call does,
or with the process).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import wasmtime

from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult, Violation
from sentinel.sandbox.wasi_tools import TOOLS, module_text
from sentinel.sandbox.wasm import WasmTool, compile_module, fuel_engine


class WasiToolbox:
    """The shipped WASI tools, compiled once, run with ``policy``'s limits.

    Args:
        policy: Its ``wasm`` section gives fuel and memory per call, its resources the
            output limit.
    """

    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy
        self.engine = fuel_engine()
        self._modules: dict[str, wasmtime.Module] = {}
        self._lock = threading.Lock()

    def module(self, name: str) -> wasmtime.Module:
        """Tool ``name``, compiled on first use.

        Raises:
            KeyError: No such tool.
            SandboxError: The shipped module does not compile (a packaging defect).
        """
        with self._lock:
            if name not in self._modules:
                if name not in TOOLS:
                    raise KeyError(name)
                self._modules[name] = compile_module(self.engine, module_text(name))
            return self._modules[name]

    def run(self, name: str, args: list[str], *, workspace: Path, stdin: bytes = b"") -> ExecResult:
        """Run tool ``name`` with ``args`` over ``workspace`` (pre-opened read-only as ``/``).

        Raises:
            KeyError: No such tool.
            SandboxError: The shipped module cannot be instantiated (a packaging defect).
        """
        limits = self.policy.wasm
        tool = WasmTool(
            self.module(name),
            workspace=workspace,
            fuel=limits.fuel,
            memory_bytes=limits.memory_mb << 20,
            max_output_bytes=self.policy.resources.max_output_bytes,
            writable=False,
            engine=self.engine,
        )
        outcome: list[ExecResult | Exception] = []

        def call() -> None:
            try:
                outcome.append(tool.run(args, stdin=stdin))
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
                outcome.append(exc)

        wall = self.policy.resources.wall_timeout_s
        thread = threading.Thread(target=call, name=f"wasi-{name}", daemon=True)
        started = time.monotonic()
        thread.start()
        thread.join(wall)
        if not outcome:
            return _abandoned(wall, time.monotonic() - started)
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]


def _abandoned(wall: float, waited: float) -> ExecResult:
    """The result of a call that did not finish within ``wall`` seconds."""
    detail = f"no result after {wall} s (blocked outside WebAssembly); the call was abandoned"
    return ExecResult(
        exit_code=None,
        signal=None,
        stdout=b"",
        stderr=b"",
        truncated=False,
        timed_out=True,
        oom_killed=False,
        pids_limited=False,
        cpu_s=0.0,
        max_rss_bytes=0,
        duration_s=waited,
        violations=(Violation("wasmtime", "timeout", detail),),
        layers=("wasmtime",),
    )
