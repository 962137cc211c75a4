"""A client of the admin API, for ``sentinel-run gateway key ...``.

It speaks HTTP to a running gateway, so every CLI action takes the same path as any admin
call: admin key checked, action audited, the key store shared by every gateway process.
"""

from __future__ import annotations

from typing import Any

import httpx

from sentinel.errors import GatewayError

ADMIN_TIMEOUT_S = 10.0
"""An admin call is a few SQLite statements and one audit commit."""


class AdminClient:
    """Calls the admin API of the gateway at ``url`` with ``admin_key``.

    Args:
        url: The gateway's address, ``http://host:port`` (a trailing ``/v1`` is dropped).
        admin_key: The admin key.
    """

    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")
        self._headers = {"Authorization": f"Bearer {admin_key}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401 - httpx's keywords
        try:
            reply = httpx.request(
                method, self.url + path, headers=self._headers, timeout=ADMIN_TIMEOUT_S, **kwargs
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"cannot reach the gateway at {self.url}: {exc}") from None
        try:
            body: dict[str, Any] = reply.json()
        except ValueError:
            body = {}
        if reply.status_code != httpx.codes.OK:
            error = body.get("error") or {}
            failure = GatewayError(
                f"{reply.status_code} {error.get('code') or ''}: "
                f"{error.get('message') or reply.text[:200]}"
            )
            failure.status = reply.status_code
            raise failure
        return body

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /key/generate``; the reply holds the key, shown this once."""
        return self._call("POST", "/key/generate", json=body)

    def list_keys(self, *, include_revoked: bool = True) -> list[dict[str, Any]]:
        """``GET /key/list``."""
        params = {"include_revoked": "true" if include_revoked else "false"}
        data: list[dict[str, Any]] = self._call("GET", "/key/list", params=params)["data"]
        return data

    def revoke(self, key_ids: list[str]) -> list[dict[str, Any]]:
        """``POST /key/delete``."""
        data: list[dict[str, Any]] = self._call("POST", "/key/delete", json={"key_ids": key_ids})[
            "data"
        ]
        return data

    def spend(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /spend`` with the given filters."""
        data: list[dict[str, Any]] = self._call("GET", "/spend", params=filters)["data"]
        return data
