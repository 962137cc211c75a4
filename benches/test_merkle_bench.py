"""Merkle hashing, native vs the RFC 6962 reference, on a log of 10,000 events.

The pytest-benchmark tables time each variant on its own; the gates time them again,
interleaved call by call (:func:`benches.conftest.interleaved_samples`), and compare the
median of the paired ratios (:func:`benches.conftest.paired_ratio`), so a stretch of load
on the shared machine falls on both sides of each ratio.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from benches.conftest import interleaved_samples, paired_ratio
from sentinel.audit.merkle import leaf_hashes, merkle_root, reference_leaf_hash, reference_root

LOG_SIZE = 10_000
EVENT_BYTES = 200  # about one canonical audit event
ROOT_MIN_SPEEDUP = 3.0
"""Measured ~4.7x on the 2-core CI machine; interleaved, 4.62x at load 4.3 and 5.09x at 6.4."""
LEAVES_MIN_SPEEDUP = 1.3
"""Measured ~2.2x (hashlib is already C, the gain is the batch); interleaved, 2.62x at load
4.3 and 2.15x at 6.4."""
GATE_ROUNDS = 40
"""Interleaved calls of each variant a gate times (each call 1-30 ms)."""


@pytest.fixture(scope="module")
def events() -> list[bytes]:
    return [os.urandom(EVENT_BYTES) for _ in range(LOG_SIZE)]


@pytest.fixture(scope="module")
def hashes(events: list[bytes]) -> list[bytes]:
    return [reference_leaf_hash(event) for event in events]


def test_root_native(measure: Callable[..., Any], hashes: list[bytes]) -> None:
    assert measure("merkle-root", "native", lambda: merkle_root(hashes)) == reference_root(hashes)


def test_root_reference(measure: Callable[..., Any], hashes: list[bytes]) -> None:
    measure("merkle-root", "reference", lambda: reference_root(hashes))


def _gate(name: str, native: Callable[[], Any], reference: Callable[[], Any]) -> float:
    """Reference time over native time: the median of interleaved pairs, printed."""
    samples = interleaved_samples({"native": native, "reference": reference},
                                  rounds=GATE_ROUNDS, warmup=3)  # fmt: skip
    ratio = paired_ratio(samples["reference"], samples["native"])
    native_ms, reference_ms = (statistics.median(samples[v]) * 1e3 for v in ("native", "reference"))
    print(f"\n{name}, interleaved medians: native {native_ms:.2f} ms, reference "
          f"{reference_ms:.2f} ms; median of paired ratios {ratio:.2f}x")  # fmt: skip
    return ratio


def test_root_speedup_gate(hashes: list[bytes]) -> None:
    """The root of 10,000 leaf hashes: native over the recursive RFC 6962 reference."""
    ratio = _gate("merkle-root", lambda: merkle_root(hashes), lambda: reference_root(hashes))
    assert ratio >= ROOT_MIN_SPEEDUP, f"merkle root only {ratio:.2f}x the reference"


def test_leaves_native(measure: Callable[..., Any], events: list[bytes]) -> None:
    measure("merkle-leaves", "native", lambda: leaf_hashes(events))


def test_leaves_reference(measure: Callable[..., Any], events: list[bytes]) -> None:
    measure("merkle-leaves", "reference", lambda: [reference_leaf_hash(event) for event in events])


def test_leaves_speedup_gate(events: list[bytes]) -> None:
    """10,000 leaf hashes in one native batch over hashlib called per event."""
    ratio = _gate("merkle-leaves", lambda: leaf_hashes(events),
                  lambda: [reference_leaf_hash(event) for event in events])  # fmt: skip
    assert ratio >= LEAVES_MIN_SPEEDUP, f"leaf hashes only {ratio:.2f}x the reference"
