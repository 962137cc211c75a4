"""Code run in child processes by the crash and concurrency tests (importable under spawn)."""

from __future__ import annotations

import sys
from pathlib import Path

from sentinel.audit import AuditStore, NewEvent


def append_forever(path: str) -> None:
    """Append single events until killed; print each acknowledged position and id."""
    store = AuditStore(path, checkpoint_every=50, checkpoint_interval_ms=20)
    print("ready", flush=True)
    i = 0
    while True:
        event = store.append(f"agent/crash-{i % 5}", "test.step", {"i": i, "pad": "x" * (i % 300)})
        print(f"{event.position} {event.event_id}", flush=True)
        i += 1


def append_with_keys(path: str, worker: int, count: int, key_space: int) -> list[tuple[str, str]]:
    """Append ``count`` events whose idempotency keys overlap with other workers'."""
    results = []
    with AuditStore(path, node=f"proc-{worker}", checkpoint_every=100) as store:
        for i in range(0, count, 10):
            batch = [
                NewEvent(
                    f"agent/W-{worker}",
                    "test.step",
                    {"worker": worker, "i": j},
                    idempotency_key=f"k-{(j * 7 + worker) % key_space}",
                )
                for j in range(i, i + 10)
            ]
            results += [(e.idempotency_key or "", e.event_id) for e in store.append_batch(batch)]
    return results


if __name__ == "__main__":
    append_forever(sys.argv[1])


def open_new_store(path: str) -> str:
    """Open (and so create) the store at ``path``; ``"ok"`` or the error's repr."""
    try:
        with AuditStore(Path(path)):
            pass
    except Exception as exc:  # noqa: BLE001 - the test compares what each process saw
        return repr(exc)
    return "ok"
