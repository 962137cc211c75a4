"""Virtual keys: API keys created, listed and revoked through the admin API.

A virtual key belongs to a plain client (the transparent proxy) or to an agent (a persona),
and may carry its own budget (tokens and/or requests per hour or day), enforced by the
budget ledger next to the agent, team and global limits.

Keys live in the budget ledger's SQLite file, table ``virtual_keys``, **hashed**: the row
holds ``SHA-256(key)`` and never the key, which is shown once, when it is created. A key is
``sk-sentinel-`` and 32 random bytes (256 bits, :func:`secrets.token_urlsafe`), so an
unsalted SHA-256 is enough: no dictionary or brute force reaches a 256-bit preimage, and
a lookup by digest tells a timing observer nothing about the key. Every request reads the
row, so a revocation made by one gateway process refuses the key in every process on the
same ledger with its next request (no cache to expire).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sentinel.errors import ConfigError
from sentinel.gateway.budget import BUSY_TIMEOUT_MS
from sentinel.gateway.settings import BudgetLimit

KEY_PREFIX = "sk-sentinel-"
"""Prefix of every virtual key, so a leaked one is recognisable (secret scanners)."""
KEY_BYTES = 32
"""Random bytes per key: 256 bits."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS virtual_keys (
    key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    owner TEXT NOT NULL, alias TEXT, created REAL NOT NULL, revoked REAL,
    period TEXT, tokens INTEGER, requests INTEGER
);
"""

OwnerKind = Literal["client", "agent"]


@dataclass(frozen=True)
class VirtualKey:
    """What the ledger knows of one key (never the key itself).

    Attributes:
        key_id: The key's public name (``vk-`` and 16 hex digits), used to revoke it.
        kind: ``client`` (transparent proxy) or ``agent`` (a persona).
        owner: The client id or agent id the key authenticates as.
        alias: A free label.
        created: Unix seconds.
        revoked: Unix seconds of the revocation, or None.
        period: ``hour`` or ``day`` when the key has a budget.
        tokens: Tokens per period, or None.
        requests: Requests per period, or None.
    """

    key_id: str
    kind: OwnerKind
    owner: str
    alias: str | None
    created: float
    revoked: float | None
    period: Literal["hour", "day"] | None
    tokens: int | None
    requests: int | None

    def budget(self) -> BudgetLimit | None:
        """The key's own limit (scope ``agent`` on the key's scope row), or None."""
        if self.period is None or (self.tokens is None and self.requests is None):
            return None
        return BudgetLimit(
            scope="agent", period=self.period, tokens=self.tokens, requests=self.requests
        )

    def to_json(self) -> dict[str, Any]:
        """The key as the admin API lists it."""
        data = asdict(self)
        data["budget"] = {k: data.pop(k) for k in ("period", "tokens", "requests")}
        return data


def hash_key(key: str) -> str:
    """``sha256:<hex>`` of a key, the form stored (and accepted in settings)."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """Virtual keys in the ledger file.

    Args:
        path: The budget ledger's SQLite file (``:memory:`` for one process).
        clock: Wall-clock seconds.

    Raises:
        ConfigError: The file cannot be opened.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the key store: {exc}", path=self.path) from None

    def create(
        self,
        kind: OwnerKind,
        owner: str,
        *,
        alias: str | None = None,
        period: Literal["hour", "day"] | None = None,
        tokens: int | None = None,
        requests: int | None = None,
    ) -> tuple[str, VirtualKey]:
        """Create a key; returns the key (shown once, stored only hashed) and its record."""
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        record = VirtualKey(
            key_id="vk-" + uuid.uuid4().hex[:16],
            kind=kind,
            owner=owner,
            alias=alias,
            created=self._clock(),
            revoked=None,
            period=period,
            tokens=tokens,
            requests=requests,
        )
        with self._lock:
            self._conn.execute(
                "INSERT INTO virtual_keys VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    record.key_id,
                    hash_key(key),
                    kind,
                    owner,
                    alias,
                    record.created,
                    period,
                    tokens,
                    requests,
                ),
            )
        return key, record

    def find(self, key: str) -> VirtualKey | None:
        """The record of ``key`` (revoked or not), or None for a key never issued."""
        return self._one("key_hash = ?", hash_key(key))

    def get(self, key_id: str) -> VirtualKey | None:
        """The record named ``key_id``, or None."""
        return self._one("key_id = ?", key_id)

    def list_keys(self, *, include_revoked: bool = True) -> list[VirtualKey]:
        """Every key, oldest first."""
        where = "1" if include_revoked else "revoked IS NULL"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM virtual_keys WHERE {where} ORDER BY created, key_id"  # noqa: S608 - constant
            ).fetchall()
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> VirtualKey | None:
        """Revoke ``key_id`` (idempotent: the first revocation's time stays).

        Returns:
            The record after revocation, or None when no such key exists.
        """
        with self._lock:
            self._conn.execute(
                "UPDATE virtual_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                (self._clock(), key_id),
            )
        return self.get(key_id)

    def _one(self, where: str, value: str) -> VirtualKey | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM virtual_keys WHERE {where}",  # noqa: S608 - constant
                (value,),
            ).fetchone()
        return _record(row) if row else None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()


_COLUMNS = "key_id, kind, owner, alias, created, revoked, period, tokens, requests"


def _record(row: tuple[Any, ...]) -> VirtualKey:
    return VirtualKey(*row)
