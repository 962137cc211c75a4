"""The native module's build metadata. ``build_info`` has no Python reference (it reports how
the extension was compiled), so it is checked against independent sources instead."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import sentinel
from sentinel import _native


def test_versions_agree() -> None:
    info = _native.build_info()
    assert info["version"] == _native.__version__ == sentinel.__version__


def test_build_info_shape() -> None:
    info = _native.build_info()
    assert info["profile"] in ("release", "debug")
    assert info["debug_assertions"] == (info["profile"] == "debug")
    assert "abi3" in info["features"]
    assert info["target"].endswith("-linux-gnu") or info["target"].endswith("-linux-musl")


def test_rustc_is_the_toolchain_on_this_machine() -> None:
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.fail("rustc is not on PATH, but the extension was built here from source")
    out = subprocess.run(
        [rustc, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _native.build_info()["rustc"] == out
