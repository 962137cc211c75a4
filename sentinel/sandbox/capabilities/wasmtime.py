"""Detect the Wasmtime runtime that runs WASI tools."""

from __future__ import annotations

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import LayerJudge, LayerReport, WasmtimeFacts

WASMTIME = LayerJudge("wasmtime", "layer")


def detect_wasmtime(host: HostView) -> WasmtimeFacts:
    """Import wasmtime and run a module with fuel metering and a memory limit."""
    version, smoke = host.wasmtime_probe()
    return WasmtimeFacts(version=version, smoke=smoke)


def assess_wasmtime(facts: WasmtimeFacts) -> LayerReport:
    """Judge the Wasmtime layer."""
    if facts.version is None or facts.smoke is None:
        return WASMTIME.unavailable(
            summary="not installed",
            reason="the wasmtime Python package cannot be imported",
            fix="pip install wasmtime",
        )
    if not facts.smoke.ok:
        return WASMTIME.unavailable(
            summary=f"wasmtime {facts.version}",
            reason=f"a fuel-metered test module failed: {facts.smoke.detail}",
            fix="pip install --upgrade wasmtime",
        )
    return WASMTIME.available(
        summary=f"wasmtime {facts.version}, fuel + memory limits",
    )
