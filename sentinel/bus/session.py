"""Opening Zenoh sessions that stay on the endpoints they are given (no scouting)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sentinel.errors import BusError

if TYPE_CHECKING:
    import zenoh


def open_session(
    *, listen: list[str] | None = None, connect: list[str] | None = None, shm: bool = True
) -> zenoh.Session:
    """A peer session on exactly these endpoints, with shared memory on or off.

    Multicast and gossip scouting are off: a session only talks to the endpoints named
    (the project's network rule: loopback or namespaces it made itself).

    Raises:
        BusError: Zenoh is not installed or the session cannot open (port taken, bad endpoint).
    """
    try:
        import zenoh  # noqa: PLC0415 - the bus is optional; runs work without it
    except ImportError as exc:
        raise BusError(f"the bus needs eclipse-zenoh ({exc})") from None
    config = zenoh.Config()
    config.insert_json5("mode", '"peer"')
    config.insert_json5("scouting/multicast/enabled", "false")
    config.insert_json5("scouting/gossip/enabled", "false")
    config.insert_json5("listen/endpoints", json.dumps(listen or []))
    config.insert_json5("connect/endpoints", json.dumps(connect or []))
    config.insert_json5("transport/shared_memory/enabled", "true" if shm else "false")
    try:
        return zenoh.open(config)
    except zenoh.ZError as exc:
        raise BusError(
            f"cannot open a bus session (listen {listen}, connect {connect}): {exc}"
        ) from None
