"""UUIDv7 (RFC 9562 section 5.7): 48-bit Unix milliseconds, then random bits.

Python 3.11 has no ``uuid.uuid7``. Ids generated in one process are strictly increasing:
within one millisecond the 12-bit ``rand_a`` field is used as a counter (RFC 9562
section 6.2, method 1), so ids sort in creation order.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Final

_COUNTER_MAX: Final = 0xFFF
_lock = threading.Lock()
_last_ms = -1
_counter = 0


def uuid7(now_ns: int | None = None) -> str:
    """A new UUIDv7 as its canonical 36-character string."""
    global _last_ms, _counter  # noqa: PLW0603 - process-wide monotonic state by design
    ms = (now_ns if now_ns is not None else time.time_ns()) // 1_000_000
    with _lock:
        if ms <= _last_ms:
            if _counter < _COUNTER_MAX:
                _counter += 1
                ms = _last_ms
            else:  # counter exhausted: borrow the next millisecond, as the RFC allows
                ms = _last_ms + 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
