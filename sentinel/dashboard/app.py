"""The dashboard's HTTP application: static page, events as server-sent events, operator API.

Routes:

- ``GET /``: the page (``static/index.html``; the JavaScript and CSS are ours, in the
  package: no build step, nothing fetched from elsewhere).
- ``GET /api/info``: the store, whether a run is attached (operator actions possible).
- ``GET /api/layout``: rooms, doors and personas of the run's company.
- ``GET /api/events?after=N``: one batch of events after position ``N`` (JSON).
- ``GET /api/stream?after=N``: every event after ``N``, then new ones as they are stored,
  as server-sent events (one JSON array of events per message).
- ``GET /api/workspaces?at=N``: the CAS workspace snapshots recorded up to audit position
  ``N`` (default: all), the latest of each agent.
- ``GET /api/workspace?root=R``: the tree of recorded snapshot ``R`` (objects checked).
- ``GET /api/workspace/file?root=R&path=P``: one file of it, size-limited, as text or, for
  binary contents, as hex (:mod:`sentinel.cas.browse`).
- ``POST /api/operator``: ``{"action", "target", "room"}`` with ``Authorization: Bearer
  <token>``; applied by the run's thread and recorded as an ``operator.action`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sentinel.cas.run_workspaces import objects_beside
from sentinel.config import DEFAULT_COMPANY
from sentinel.dashboard.feed import EventFeed, EventSource
from sentinel.dashboard.layout import office_layout
from sentinel.dashboard.operator import ACTIONS, Operator
from sentinel.dashboard.workspaces import WorkspaceViews

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
POLL_S: Final = 0.005
"""How often a stream looks for new events: 5 ms, a twentieth of the 100 ms p50 budget."""
OPERATOR_TIMEOUT_S: Final = 10.0
"""How long an operator request waits for the run's thread (one tick is far shorter)."""
MAX_BODY_BYTES: Final = 4096
"""An operator request is a few short strings."""


def create_app(
    store: Path,
    *,
    operator: Operator | None = None,
    config: Path = DEFAULT_COMPANY,
    objects: Path | None = None,
    feed: EventSource | None = None,
) -> Starlette:
    """The dashboard of the run whose audit store is ``store``.

    Args:
        store: The run's audit store (it may not exist yet: a run about to start).
        operator: The live run's operator control (``run --dashboard``); None for a store
            only, where operator actions are refused with 409.
        config: The company directory to draw when the store records none.
        objects: The run's CAS object store (default: beside the store, ``<store>.cas``).
        feed: Where the events come from (default: the store file, :class:`EventFeed`; the
            bus: :class:`~sentinel.dashboard.bus_feed.BusFeed`). Workspaces are read from
            the store and its object store either way.
    """
    source: EventSource = EventFeed(store) if feed is None else feed
    views = WorkspaceViews(store, objects_beside(store) if objects is None else objects)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "store": str(store),
                "attached": operator is not None,
                "head": await anyio.to_thread.run_sync(source.head),
                "actions": list(ACTIONS),
            }
        )

    async def layout(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(office_layout, source, config))

    async def events(request: Request) -> Response:
        after = _after(request)
        if after is None:
            return JSONResponse({"error": "after must be an integer"}, status_code=400)
        return JSONResponse(await anyio.to_thread.run_sync(source.read, after))

    async def stream(request: Request) -> Response:
        after = _after(request)
        if after is None:
            return JSONResponse({"error": "after must be an integer"}, status_code=400)
        return StreamingResponse(
            _sse(request, source, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def act(request: Request) -> Response:
        if operator is None:
            return JSONResponse(
                {"error": "no run attached: start it with `sentinel-run run --dashboard`"},
                status_code=409,
            )
        body = await request.body()
        try:
            data = json.loads(body) if len(body) <= MAX_BODY_BYTES else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("action"), str):
            return JSONResponse(
                {"error": "expected a JSON object with a string member 'action'"},
                status_code=400,
            )
        header = request.headers.get("authorization", "")
        presented = header[7:] if header.lower().startswith("bearer ") else None
        authorized = operator.authorized(presented)
        done = operator.submit(
            data["action"],
            str(data.get("target") or ""),
            str(data.get("room") or ""),
            authorized=authorized,
        )
        try:
            payload: dict[str, Any] = await asyncio.wait_for(
                asyncio.wrap_future(done), OPERATOR_TIMEOUT_S
            )
        except TimeoutError:
            return JSONResponse({"error": "the run did not take the action"}, status_code=504)
        if not authorized:
            return JSONResponse(payload, status_code=401)
        return JSONResponse(payload, status_code=200 if payload["decision"] == "accepted" else 409)

    async def workspaces(request: Request) -> Response:
        raw = request.query_params.get("at")
        try:
            at = None if raw is None else int(raw)
        except ValueError:
            return _answer((400, {"error": "at must be an integer"}))
        return _answer(await anyio.to_thread.run_sync(views.snapshots, at))

    async def workspace(request: Request) -> Response:
        root = request.query_params.get("root", "")
        return _answer(await anyio.to_thread.run_sync(views.tree, root))

    async def workspace_file(request: Request) -> Response:
        root = request.query_params.get("root", "")
        path = request.query_params.get("path", "")
        return _answer(await anyio.to_thread.run_sync(views.file, root, path))

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/layout", layout),
        Route("/api/events", events),
        Route("/api/stream", stream),
        Route("/api/workspaces", workspaces),
        Route("/api/workspace", workspace),
        Route("/api/workspace/file", workspace_file),
        Route("/api/operator", act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        source.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.feed = source
    return app


def _answer(answer: tuple[int, dict[str, Any]]) -> Response:
    status, body = answer
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _after(request: Request) -> int | None:
    try:
        return int(request.query_params.get("after", "-1"))
    except ValueError:
        return None


async def _sse(request: Request, feed: EventSource, after: int) -> AsyncIterator[str]:
    """Events after ``after``, then every new one, until the browser goes away."""
    yield ": sentinel dashboard\n\n"
    while not await request.is_disconnected():
        # Read in the event loop's thread: an indexed range query of a WAL store never waits
        # for the writer and takes well under a millisecond, while a worker-thread hop costs
        # two GIL hand-overs (~5 ms each) against a busy run in the same process.
        rows = feed.read(after)
        if rows:
            after = rows[-1]["position"]
            yield f"data: {json.dumps(rows, separators=(',', ':'))}\n\n"
        else:
            await asyncio.sleep(POLL_S)
