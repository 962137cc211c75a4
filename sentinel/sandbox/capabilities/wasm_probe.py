"""Prove that Wasmtime runs here with the limits WASI tools need."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

from sentinel.sandbox.capabilities.model import Probe

_SMOKE_MODULE: Final = """
(module
  (memory (export "memory") 1)
  (func (export "answer") (result i32) i32.const 42))
"""
_SMOKE_FUEL: Final = 10_000
"""Plenty for one constant; running out would mean metering is broken."""
_SMOKE_MEMORY_BYTES: Final = 1 << 20


def run_wasm_smoke_test() -> tuple[str | None, Probe | None]:
    """Instantiate a module with fuel and a store memory limit, and call it.

    Returns:
        ``(version, probe)``; ``(None, None)`` when the wasmtime package is not installed.
    """
    try:
        installed = version("wasmtime")
        import wasmtime  # noqa: PLC0415 - optional at run time; absence is a verdict
    except (PackageNotFoundError, ImportError):
        return None, None
    try:
        config = wasmtime.Config()
        config.consume_fuel = True
        engine = wasmtime.Engine(config)
        store = wasmtime.Store(engine)
        store.set_fuel(_SMOKE_FUEL)
        store.set_limits(memory_size=_SMOKE_MEMORY_BYTES)
        module = wasmtime.Module(engine, _SMOKE_MODULE)
        instance = wasmtime.Instance(store, module, [])
        answer_fn = instance.exports(store)["answer"]
        if not isinstance(answer_fn, wasmtime.Func):
            return installed, Probe(ok=False, detail="export 'answer' is not a function")
        answer = answer_fn(store)
    except Exception as exc:  # noqa: BLE001 - any failure of the runtime is the verdict
        return installed, Probe(ok=False, detail=f"{type(exc).__name__}: {exc}")
    if answer != 42:
        return installed, Probe(ok=False, detail=f"module returned {answer!r}, expected 42")
    return installed, Probe(ok=True, detail=f"fuel left {store.get_fuel()}")
