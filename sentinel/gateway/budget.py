"""Budgets as a ledger: reserve before the call, settle after, atomic across processes.

Every entry point (library call, HTTP, streaming) goes through :meth:`BudgetLedger.reserve`
before a provider is called and :meth:`BudgetLedger.settle` after, in one SQLite file, so
budgets hold across threads, processes and replicas sharing the file (SEED_NOTES marks the
reference's bypassable budgets as a flaw, and it is the top bug class of gateways).

A reservation holds the most a call can cost (prompt estimate plus ``max_tokens``) against
every limit that applies (agent, team, global; hour and day). Settling replaces it with the
actual usage. A reservation whose process died (``kill -9`` between reserve and settle), or
that outlived ``reservation_ttl_s``, is reconciled: charged at its reserved amount, since
the provider may have billed the call, and logged in ``reconciled``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sentinel.errors import BudgetExhaustedError, ConfigError
from sentinel.gateway.settings import BudgetLimit

PERIOD_SECONDS = {"hour": 3600, "day": 86400}
BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's transaction."""
RECONCILE_EVERY_S = 1.0
"""Expired reservations are looked for at most this often by :meth:`BudgetLedger.reserve`."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    scope_key TEXT NOT NULL, period TEXT NOT NULL, start INTEGER NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0, usd REAL NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    held_tokens INTEGER NOT NULL DEFAULT 0, held_usd REAL NOT NULL DEFAULT 0,
    held_requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope_key, period, start)
);
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY, pid INTEGER NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    tokens INTEGER NOT NULL, usd REAL NOT NULL, requests INTEGER NOT NULL, keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reconciled (
    id TEXT PRIMARY KEY, at REAL NOT NULL, reason TEXT NOT NULL,
    tokens INTEGER NOT NULL, usd REAL NOT NULL, requests INTEGER NOT NULL
);
"""

Key = tuple[str, str, int]
"""(scope key, period, period start) of one usage row."""


@dataclass(frozen=True)
class Reservation:
    """What a call holds until it settles."""

    id: str
    tokens: int
    usd: float
    keys: tuple[Key, ...]
    limits: tuple[BudgetLimit, ...] = ()
    """The limit of each key, in order (empty: the ledger's own limits)."""


@dataclass(frozen=True)
class Usage:
    """Spent (settled or reconciled) plus reserved amounts on one usage row."""

    tokens: int
    usd: float
    requests: int


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BudgetLedger:
    """The budget ledger in one SQLite file (``:memory:`` for a single process).

    Args:
        path: The SQLite file, shared by every process that draws on the same budgets.
        limits: The limits to enforce.
        reservation_ttl_s: A reservation older than this is reconciled.
        clock: Wall-clock seconds (periods are calendar hours and days in UTC).

    Raises:
        ConfigError: The file cannot be opened as a ledger.
    """

    def __init__(
        self,
        path: Path | str,
        limits: Sequence[BudgetLimit],
        *,
        reservation_ttl_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.limits = tuple(limits)
        self.ttl_s = reservation_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_reconcile = float("-inf")
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode loses nothing when a process dies (the kill -9 case); only a
            # power cut may drop the last transactions. FULL would cost an fsync per call.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the budget ledger: {exc}", path=self.path) from None
        self.reconcile(check_processes=True)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def keys(self, agent_id: str, team: str, now: float | None = None) -> list[Key]:
        """The usage rows a call of ``agent_id`` (in ``team``) draws on, one per limit."""
        now = self._clock() if now is None else now
        keys: list[Key] = []
        for limit in self.limits:
            scope = {"agent": f"agent:{agent_id}", "team": f"team:{team}", "global": "global"}[
                limit.scope
            ]
            length = PERIOD_SECONDS[limit.period]
            keys.append((scope, limit.period, int(now // length) * length))
        return keys

    def reserve(
        self,
        agent_id: str,
        team: str,
        *,
        tokens: int,
        usd: float,
        extra: Sequence[tuple[str, BudgetLimit]] = (),
    ) -> Reservation:
        """Hold ``tokens``, ``usd`` and one request against every applicable limit.

        Args:
            agent_id: The caller's agent (or client) id.
            team: The caller's team.
            tokens: Tokens to hold.
            usd: Money to hold.
            extra: Further limits as (scope key, limit), such as a virtual key's own budget
                (``key:<key id>``); the limit's ``scope`` is not read.

        Raises:
            BudgetExhaustedError: Some limit cannot cover it; nothing was reserved. The
                message names the scope, period and member.
        """
        now = self._clock()
        keys, limits = self._scopes(agent_id, team, now, extra)
        reservation = Reservation(
            uuid.uuid4().hex, tokens, usd, tuple(keys), tuple(limits) if extra else ()
        )
        with self._transaction() as conn:
            self._reconcile_if_due(conn, now)
            self._check(conn, limits, keys, tokens, usd)
            self._hold(conn, keys, tokens, usd, 1)
            conn.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reservation.id,
                    os.getpid(),
                    now,
                    now + self.ttl_s,
                    tokens,
                    usd,
                    1,
                    json.dumps(keys),
                ),
            )
        return reservation

    def charge(
        self, agent_id: str, team: str, *, extra: Sequence[tuple[str, BudgetLimit]] = ()
    ) -> None:
        """Charge one request of no tokens and no money at once: a synthesized or learned answer.

        The same limit checks as :meth:`reserve` with nothing held, in one transaction: a
        reservation and its settlement would be two, with the same end state (no provider
        is called, so there is nothing to hold while waiting).

        Raises:
            BudgetExhaustedError: Some limit cannot cover one more request; nothing changed.
        """
        now = self._clock()
        keys, limits = self._scopes(agent_id, team, now, extra)
        with self._transaction() as conn:
            self._reconcile_if_due(conn, now)
            self._check(conn, limits, keys, 0, 0.0)
            self._charge(conn, keys, 0, 0.0, 1)

    def _reconcile_if_due(self, conn: sqlite3.Connection, now: float) -> None:
        """Reconcile (without the process check) once RECONCILE_EVERY_S passed since the last."""
        if now - self._last_reconcile >= RECONCILE_EVERY_S:
            self._reconcile(conn, now, check_processes=False)
            self._last_reconcile = now

    def _scopes(
        self, agent_id: str, team: str, now: float, extra: Sequence[tuple[str, BudgetLimit]]
    ) -> tuple[list[Key], list[BudgetLimit]]:
        keys = self.keys(agent_id, team, now)
        limits = list(self.limits)
        for scope, limit in extra:
            length = PERIOD_SECONDS[limit.period]
            keys.append((scope, limit.period, int(now // length) * length))
            limits.append(limit)
        return keys, limits

    def _check(
        self,
        conn: sqlite3.Connection,
        limits: Sequence[BudgetLimit],
        keys: Sequence[Key],
        tokens: int,
        usd: float,
    ) -> None:
        for limit, key in zip(limits, keys, strict=True):
            used = self._used(conn, key)
            for member, need, have in (
                ("tokens", tokens, used.tokens),
                ("usd", usd, used.usd),
                ("requests", 1, used.requests),
            ):
                cap = getattr(limit, member)
                if cap is not None and have + need > cap:
                    raise BudgetExhaustedError(
                        f"{key[0]} {limit.period} budget: {member} {have:g} used or held "
                        f"+ {need:g} asked > {cap:g}"
                    )

    def extend(self, reservation: Reservation, *, tokens: int, usd: float) -> Reservation:
        """Hold ``tokens`` and ``usd`` more for an open reservation (a regeneration).

        Returns:
            The reservation with its new amounts (settle and release take this one).

        Raises:
            BudgetExhaustedError: Some limit cannot cover the addition; nothing changed.
        """
        with self._transaction() as conn:
            limits = reservation.limits or self.limits
            for limit, key in zip(limits, reservation.keys, strict=True):
                used = self._used(conn, key)
                for member, need, have in (("tokens", tokens, used.tokens), ("usd", usd, used.usd)):
                    cap = getattr(limit, member)
                    if cap is not None and need > 0 and have + need > cap:
                        raise BudgetExhaustedError(
                            f"{key[0]} {limit.period} budget: {member} {have:g} used or held "
                            f"+ {need:g} more asked > {cap:g}"
                        )
            found = conn.execute(
                "UPDATE reservations SET tokens = tokens + ?, usd = usd + ? WHERE id = ?",
                (tokens, usd, reservation.id),
            ).rowcount
            if not found:
                raise BudgetExhaustedError("the reservation expired and was reconciled")
            self._hold(conn, reservation.keys, tokens, usd, 0)
        return Reservation(
            reservation.id,
            reservation.tokens + tokens,
            reservation.usd + usd,
            reservation.keys,
            reservation.limits,
        )

    def settle(self, reservation: Reservation, *, tokens: int, usd: float) -> bool:
        """Replace the reservation with the actual usage (one request).

        Returns:
            False if the reservation was already reconciled (it was charged then; nothing
            more is charged).
        """
        return self._finish(reservation, tokens=tokens, usd=usd, requests=1)

    def release(self, reservation: Reservation) -> bool:
        """Drop a reservation whose call never reached a provider; nothing is charged."""
        return self._finish(reservation, tokens=0, usd=0.0, requests=0)

    def _finish(self, reservation: Reservation, *, tokens: int, usd: float, requests: int) -> bool:
        with self._transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM reservations WHERE id = ?", (reservation.id,)
            ).rowcount
            if not deleted:
                return False
            # The hold created each row, so one UPDATE per row moves held to spent.
            for scope, period, start in reservation.keys:
                conn.execute(
                    "UPDATE usage SET held_tokens = held_tokens - ?, held_usd = held_usd - ?, "
                    "held_requests = held_requests - 1, tokens = tokens + ?, usd = usd + ?, "
                    "requests = requests + ? WHERE scope_key = ? AND period = ? AND start = ?",
                    (
                        reservation.tokens,
                        reservation.usd,
                        tokens,
                        usd,
                        requests,
                        scope,
                        period,
                        start,
                    ),
                )
        return True

    @staticmethod
    def _hold(
        conn: sqlite3.Connection, keys: Sequence[Key], tokens: int, usd: float, requests: int
    ) -> None:
        # Held amounts live on the usage rows, so a limit check reads one row per limit.
        for scope, period, start in keys:
            conn.execute(
                "INSERT INTO usage (scope_key, period, start, held_tokens, held_usd, "
                "held_requests) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "held_tokens = held_tokens + excluded.held_tokens, "
                "held_usd = held_usd + excluded.held_usd, "
                "held_requests = held_requests + excluded.held_requests",
                (scope, period, start, tokens, usd, requests),
            )

    @staticmethod
    def _charge(
        conn: sqlite3.Connection, keys: Sequence[Key], tokens: int, usd: float, requests: int
    ) -> None:
        for scope, period, start in keys:
            conn.execute(
                "INSERT INTO usage (scope_key, period, start, tokens, usd, requests) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "tokens = tokens + excluded.tokens, usd = usd + excluded.usd, "
                "requests = requests + excluded.requests",
                (scope, period, start, tokens, usd, requests),
            )

    @staticmethod
    def _used(conn: sqlite3.Connection, key: Key) -> Usage:
        row = conn.execute(
            "SELECT tokens + held_tokens, usd + held_usd, requests + held_requests FROM usage "
            "WHERE scope_key = ? AND period = ? AND start = ?",
            key,
        ).fetchone()
        return Usage(*row) if row else Usage(0, 0.0, 0)

    def reconcile(self, *, check_processes: bool = True) -> int:
        """Charge and drop reservations that expired or whose process is gone.

        Returns:
            How many reservations were reconciled.
        """
        with self._transaction() as conn:
            return self._reconcile(conn, self._clock(), check_processes=check_processes)

    def _reconcile(self, conn: sqlite3.Connection, now: float, *, check_processes: bool) -> int:
        # Without process checks only expired rows can qualify; with them, every row may.
        rows = conn.execute(
            "SELECT id, pid, expires, tokens, usd, requests, keys FROM reservations "
            "WHERE ? OR expires < ?",
            (int(check_processes), now),
        ).fetchall()
        count = 0
        for rid, pid, expires, tokens, usd, requests, keys in rows:
            if expires < now:
                reason = "expired"
            elif pid != os.getpid() and not _pid_alive(pid):
                reason = f"process {pid} is gone"
            else:
                continue
            conn.execute("DELETE FROM reservations WHERE id = ?", (rid,))
            held_keys = [(str(k[0]), str(k[1]), int(k[2])) for k in json.loads(keys)]
            self._hold(conn, held_keys, -tokens, -usd, -requests)
            self._charge(conn, held_keys, tokens, usd, requests)
            conn.execute(
                "INSERT INTO reconciled VALUES (?, ?, ?, ?, ?, ?)",
                (rid, now, reason, tokens, usd, requests),
            )
            count += 1
        return count

    def usage(self, key: Key) -> Usage:
        """Spent plus held on one usage row."""
        with self._transaction() as conn:
            return self._used(conn, key)

    def held_matches_reservations(self) -> bool:
        """True when the held amounts on usage rows equal the open reservations (an invariant)."""
        with self._lock:
            held = self._conn.execute(
                "SELECT coalesce(sum(held_requests), 0) FROM usage"
            ).fetchone()[0]
            expected = self._conn.execute(
                "SELECT coalesce(sum(r.requests * json_array_length(r.keys)), 0) "
                "FROM reservations r"
            ).fetchone()[0]
            return bool(held == expected)

    def open_reservations(self) -> int:
        """How many reservations are held now."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM reservations").fetchone()[0])

    def reconciled(self) -> list[tuple[str, str]]:
        """(reservation id, reason) of every reconciled reservation."""
        with self._lock:
            return [
                (row[0], row[1])
                for row in self._conn.execute("SELECT id, reason FROM reconciled ORDER BY at")
            ]

    def close(self) -> None:
        """Close the file; open reservations stay for the next open to reconcile."""
        with self._lock:
            self._conn.close()
