"""Concurrent writers, threads and processes: no duplicate key, no gap, no fork."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

from sentinel.audit import AuditStore, NewEvent, verify_store
from tests.audit.workers import append_with_keys, open_new_store

KEY_SPACE = 150


def _assert_log_is_sound(path: Path, expected_keys: set[str]) -> None:
    report = verify_store(path)
    assert report.ok, report.problems
    conn = sqlite3.connect(path)
    positions = [row[0] for row in conn.execute("SELECT position FROM events ORDER BY position")]
    assert positions == list(range(len(positions)))
    keys = [
        row[0]
        for row in conn.execute(
            "SELECT idempotency_key FROM events WHERE idempotency_key IS NOT NULL"
        )
    ]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected_keys
    lamports = [row[0] for row in conn.execute("SELECT lamport FROM events ORDER BY position")]
    assert lamports == sorted(lamports) and len(set(lamports)) == len(lamports)
    conn.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    seen: dict[str, set[str]] = {}
    lock = threading.Lock()
    with AuditStore(path, checkpoint_every=50) as store:

        def worker(index: int) -> None:
            for i in range(0, 200, 5):
                batch = [NewEvent(f"agent/T-{index}", "test.step", {"i": j},
                                  idempotency_key=f"k-{(j * 7 + index) % KEY_SPACE}") for j in range(i, i + 5)]  # fmt: skip
                for event in store.append_batch(batch):
                    with lock:
                        seen.setdefault(event.idempotency_key or "", set()).add(event.event_id)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(seen) > KEY_SPACE // 2  # keys were answered at all (all() of nothing is True)
    assert all(len(ids) == 1 for ids in seen.values()), (
        "a key was answered with two different events"
    )
    _assert_log_is_sound(path, {f"k-{n}" for n in range(KEY_SPACE)})


def test_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "processes.db"
    AuditStore(path).close()  # create it (and its key) once, as a deployment would
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(
            append_with_keys, [(str(path), worker, 120, KEY_SPACE) for worker in range(4)]
        )
    answers: dict[str, set[str]] = {}
    for key, event_id in (pair for result in results for pair in result):
        answers.setdefault(key, set()).add(event_id)
    assert len(answers) == KEY_SPACE  # 4 x 120 keys (7j + worker) mod 150 cover the space
    assert all(len(ids) == 1 for ids in answers.values()), (
        "a key was answered with two different events"
    )
    _assert_log_is_sound(path, set(answers))


def test_processes_creating_one_new_store_share_its_signing_key(tmp_path: Path) -> None:
    # Each process sees a store without keys and no key file; one saves its key, the others
    # adopt it (before: FileExistsError in all but one).
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        path = tmp_path / f"new-{round_}.db"
        with context.Pool(4) as pool:
            outcomes = pool.map(open_new_store, [str(path)] * 4)
        assert outcomes == ["ok"] * 4
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM keys").fetchone() == (1,)
        conn.close()
        assert verify_store(path).ok
