"""Streaming through the output guards: a window that holds text back until it is checked.

The detector and the judge read whole text, so a streamed reply is released a sentence at a
time: text is held until a sentence ends (``.``, ``!``, ``?`` or a newline, then
whitespace) or :data:`WINDOW_CHARS` characters are pending, then everything so far is
checked and the held text released if it is clean. The delay this adds is one sentence (at
most :data:`WINDOW_CHARS` characters) after the provider's own; a reply that breaks persona
is cut before the breaking sentence leaves the gateway (``finish_reason =
"content_filter"``). Without a check (a plain client, guards off) text passes at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sentinel.gateway.providers.base import CallFailure, StreamChunk

WINDOW_CHARS = 160
"""Most characters held back before a check (about two lines of chat)."""
_BOUNDARY = re.compile(r"[.!?\n]\s")


@dataclass
class StreamEvent:
    """What the HTTP layer sends: a text delta, tool-call deltas, or the final answer."""

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    done: Any = None
    """The :class:`~sentinel.gateway.pipeline.GatewayResponse` once the stream is over."""


class GuardedText:
    """Releases streamed text only after ``clean`` passed on everything up to it.

    Args:
        clean: True when the text so far does not break persona; None lets text through.
    """

    def __init__(self, clean: Callable[[str], bool] | None) -> None:
        self.clean = clean
        self.released = ""
        self.pending = ""
        self.broken = False

    def feed(self, text: str) -> str:
        """Add streamed text; returns what may be sent now (possibly nothing)."""
        if self.broken:
            return ""
        self.pending += text
        if self.clean is None:
            return self._release(len(self.pending))
        cut = 0
        for match in _BOUNDARY.finditer(self.pending):
            cut = match.end()
        if not cut and len(self.pending) >= WINDOW_CHARS:
            cut = self.pending.rfind(" ") + 1 or len(self.pending)
        if not cut:
            return ""
        return self._check(cut)

    def finish(self) -> str:
        """The stream ended: check all of it and release the rest."""
        if self.broken or not self.pending:
            return ""
        if self.clean is None:
            return self._release(len(self.pending))
        return self._check(len(self.pending))

    def _check(self, cut: int) -> str:
        assert self.clean is not None  # noqa: S101 - callers check
        if not self.clean(self.released + self.pending[:cut]):
            self.broken = True
            return ""
        return self._release(cut)

    def _release(self, cut: int) -> str:
        out, self.pending = self.pending[:cut], self.pending[cut:]
        self.released += out
        return out


@dataclass
class ToolCallBuffer:
    """Merges streamed tool-call deltas (by ``index``) into whole tool calls."""

    calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add(self, deltas: list[dict[str, Any]]) -> None:
        """Merge one chunk's deltas."""
        for delta in deltas:
            call = self.calls.setdefault(
                int(delta.get("index") or 0),
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = delta.get("id") or call["id"]
            call["type"] = delta.get("type") or call["type"]
            function = delta.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""

    def result(self) -> list[dict[str, Any]] | None:
        """The tool calls, in order (None if there were none)."""
        return [self.calls[i] for i in sorted(self.calls)] or None


@dataclass
class StreamTally:
    """What a relayed stream reported and how it ended."""

    model: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    complete: bool = False
    """The provider's stream ended and every piece was released."""
    failure: CallFailure | None = None


def pump(
    chunks: Iterator[StreamChunk], window: GuardedText, tools: ToolCallBuffer, tally: StreamTally
) -> Iterator[StreamEvent]:
    """Relay ``chunks`` through ``window``, noting usage and the end in ``tally``."""
    try:
        for chunk in chunks:
            tally.model = chunk.model or tally.model
            tally.finish_reason = chunk.finish_reason or tally.finish_reason
            if chunk.prompt_tokens is not None:
                tally.prompt_tokens = chunk.prompt_tokens
                tally.completion_tokens = chunk.completion_tokens
            if chunk.tool_calls:
                tools.add(chunk.tool_calls)
            released = window.feed(chunk.text)
            if released or chunk.tool_calls:
                yield StreamEvent(text=released, tool_calls=chunk.tool_calls)
            if window.broken:
                return
        released = window.finish()
        if released:
            yield StreamEvent(text=released)
        tally.complete = not window.broken
    except CallFailure as exc:
        tally.failure = exc
