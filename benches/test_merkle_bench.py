"""Merkle hashing, native vs the RFC 6962 reference, on a log of 10,000 events."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from benches.conftest import speedup
from sentinel.audit.merkle import leaf_hashes, merkle_root, reference_leaf_hash, reference_root

LOG_SIZE = 10_000
EVENT_BYTES = 200  # about one canonical audit event
ROOT_MIN_SPEEDUP = 3.0  # measured ~4.7x on the 2-core CI machine
LEAVES_MIN_SPEEDUP = 1.3  # measured ~2.2x; hashlib is already C, the gain is the batch


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


def test_root_speedup_gate() -> None:
    assert speedup("merkle-root") >= ROOT_MIN_SPEEDUP


def test_leaves_native(measure: Callable[..., Any], events: list[bytes]) -> None:
    measure("merkle-leaves", "native", lambda: leaf_hashes(events))


def test_leaves_reference(measure: Callable[..., Any], events: list[bytes]) -> None:
    measure("merkle-leaves", "reference", lambda: [reference_leaf_hash(event) for event in events])


def test_leaves_speedup_gate() -> None:
    assert speedup("merkle-leaves") >= LEAVES_MIN_SPEEDUP
