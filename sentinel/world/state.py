"""World state: allocating the component arrays and the canonical state hash.

The hash is SHA-256 over a canonical byte layout: a version line, then for every component
in name order its name, dtype (little-endian numpy ``str``), shape and raw little-endian
C-order bytes. All values enter exactly (no quantization): the systems are written so the
native code, the numpy reference and the esper oracle compute every float bit for bit the
same (see :mod:`sentinel.world.params`), so equal hashes mean equal states.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentinel.world.layout import (
    AGENT_F64,
    AGENT_I32,
    AGENT_I64,
    AGENT_U8,
    CHAOS_I32,
    CHAOS_U8,
    EMPTY_PRIORITY,
    PERCEPTION_CHANNELS,
    ROOM_F64,
    ROOM_I32,
    ROOM_U8,
    STAT_COUNT,
    Emotion,
    component_dtypes,
)

State = dict[str, npt.NDArray[Any]]
"""Component name -> array (dtypes vary per component, see ``component_dtypes``)."""
HASH_VERSION: Final = b"sentinel-world-state/1\n"


def new_state(agents: int, rooms: int, chaos_kinds: int, queue_size: int, seed: int) -> State:
    """Zeroed components for a world of the given sizes (rooms at rest, nobody on duty)."""
    dtypes = component_dtypes()
    state: State = {}
    for name in (*AGENT_F64, *AGENT_U8, *AGENT_I32, *AGENT_I64):
        state[name] = np.zeros(agents, dtype=dtypes[name])
    for name in (*ROOM_F64, *ROOM_U8, *ROOM_I32):
        state[name] = np.zeros(rooms, dtype=dtypes[name])
    for name in (*CHAOS_I32, *CHAOS_U8):
        state[name] = np.zeros(chaos_kinds, dtype=dtypes[name])
    state["chaos_room"][:] = -1
    state["emotion"][:] = Emotion.NEUTRAL
    for name in ("room", "destination", "move_order"):
        state[name][:] = -1
    state["perception"] = np.zeros((agents, len(PERCEPTION_CHANNELS)), dtype=np.uint8)
    state["queue_priority"] = np.full((agents, queue_size), EMPTY_PRIORITY, dtype=np.uint8)
    state["queue_reason"] = np.zeros((agents, queue_size), dtype=np.uint8)
    state["queue_ttl"] = np.zeros((agents, queue_size), dtype=np.uint16)
    state["tick"] = np.zeros(1, dtype=np.int64)
    state["stats"] = np.zeros(STAT_COUNT, dtype=np.int64)
    state["ac_offset"] = np.zeros(1, dtype=np.float64)
    state["seed"] = np.array([seed % 2**64], dtype=np.uint64)
    return state


def copy_state(state: State) -> State:
    """A deep copy (every array copied)."""
    return {name: array.copy() for name, array in state.items()}


def canonical_bytes(state: State) -> bytes:
    """The byte layout the state hash is taken over (see the module docstring)."""
    parts = [HASH_VERSION]
    for name in sorted(state):
        array = np.ascontiguousarray(state[name])
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        header = f"{name}|{little.dtype.str}|{','.join(map(str, array.shape))}\n"
        parts.append(header.encode())
        parts.append(little.tobytes(order="C"))
    return b"".join(parts)


def state_hash(state: State) -> str:
    """Hex SHA-256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(state)).hexdigest()
