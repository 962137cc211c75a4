"""A tiny OpenAI-compatible model server on 127.0.0.1 speaking the real chat-completions
protocol, for tests of litellm's real HTTP path, the breaker and the output guards.

Its behaviour is switched between calls: answer, fail with a status (and a Retry-After),
answer slowly, break persona a given number of times before answering in character, or
answer with tool calls. Like a real model it reports real usage: the prompt counted with a
real tokenizer (``litellm.token_counter``: cl100k_base and the chat format's per-message
overhead for a model it does not know), the reply cut at ``max_tokens``, ``n`` choices.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sentinel.gateway.providers.litellm_provider import import_litellm
from sentinel.gateway.server import free_port

IN_CHARACTER = json.dumps({"action_type": "chat", "target": "", "content": "On it!"})
OUT_OF_CHARACTER = "As an AI language model, I cannot go to the kitchen."


@dataclass
class Behaviour:
    status: int = 200
    delay_s: float = 0.0
    breaks_left: int = 0
    text: str = IN_CHARACTER
    fail_after: int | None = None
    fail_first: int = 0
    """The first calls that fail with ``status`` (then it answers)."""
    retry_after: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    chunk_delay_s: float = 0.0
    """Streaming: the pause before each chunk after the first (a model writing)."""
    sent: list[float] = field(default_factory=list)
    """Streaming: when each content chunk left (``time.monotonic()``), in order."""
    calls: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)


class FakeModelServer:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.port = free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self, **changes: Any) -> Behaviour:
        self.behaviour = Behaviour(**changes)
        return self.behaviour

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        b = self.behaviour
        b.calls += 1
        b.requests.append(body)
        waited = 0.0
        while waited < b.delay_s and b is self.behaviour:  # a reset ends the wait early
            await asyncio.sleep(0.05)
            waited += 0.05
        status = 500 if b.fail_after is not None and b.calls > b.fail_after else b.status
        if b.fail_first:
            status = b.status if b.calls <= b.fail_first else 200
        if status != 200:
            headers = {"Retry-After": b.retry_after} if b.retry_after is not None else None
            return JSONResponse(
                {
                    "error": {
                        "message": f"fake failure {status}",
                        "type": "server_error",
                        "code": str(status),
                    }
                },
                status_code=status,
                headers=headers,
            )
        text = b.text
        if b.breaks_left > 0:
            b.breaks_left -= 1
            text = OUT_OF_CHARACTER
        litellm = import_litellm()
        model = body["model"]
        try:
            prompt_tokens = litellm.token_counter(
                model=model, messages=body["messages"], tools=body.get("tools")
            )
        except Exception as exc:  # noqa: BLE001 - like a real API: the request is invalid
            error = {"message": f"invalid request: {exc}", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=400)
        tokens = litellm.encode(model=model, text=text)
        finish = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
            text = litellm.decode(model=model, tokens=tokens)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if b.tool_calls is not None:
            message = {"role": "assistant", "content": None, "tool_calls": b.tool_calls}
            finish = "tool_calls"
        if body.get("stream"):
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                     "total_tokens": prompt_tokens + len(tokens)}  # fmt: skip
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._chunks(b, model, text, finish, usage if include else None),
                media_type="text/event-stream",
            )
        n = int(body.get("n") or 1)
        choices = [{"index": i, "message": message, "finish_reason": finish} for i in range(n)]
        completion_tokens = len(tokens) * n
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{b.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def _chunks(
        self, b: Behaviour, model: str, text: str, finish: str, usage: dict[str, int] | None
    ) -> AsyncIterator[bytes]:
        base = {"id": f"chatcmpl-fake-{b.calls}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}  # fmt: skip

        def event(data: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(data)}\n\n".encode()

        pieces = [p for p in re.split(r"(?<= )", text) if p] or [""]
        for index, piece in enumerate(pieces):
            if index and b.chunk_delay_s:
                await asyncio.sleep(b.chunk_delay_s)
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            b.sent.append(time.monotonic())
            yield event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        if b.tool_calls is not None:
            calls = [{"index": i, **call} for i, call in enumerate(b.tool_calls)]
            yield event({**base, "choices": [{"index": 0, "delta": {"tool_calls": calls},
                                              "finish_reason": None}]})  # fmt: skip
        yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if usage is not None:
            yield event({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    def start(self) -> FakeModelServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "fake model server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def reply_tokens(text: str, model: str = "fake-model") -> int:
    """The completion tokens the fake server reports for ``text``."""
    return len(import_litellm().encode(model=model, text=text))
