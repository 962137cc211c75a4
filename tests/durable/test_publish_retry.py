"""Which answers of the stream a publish retries, and which it reports (the stream's replies
are raised by nats-py as exceptions; a stand-in raises the same ones in order)."""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import nats.js.errors
import pytest

from sentinel.durable.replicate import IN_PROCESS_ERR_CODE, publish_acked
from sentinel.errors import DurableError


class _Stream:
    """Answers each publish with the next of ``replies`` (an exception, or None: acked)."""

    def __init__(self, *replies: Exception | None) -> None:
        self.replies = list(replies)
        self.calls = 0

    async def publish(self, *_args: Any, **_kwargs: Any) -> None:
        self.calls += 1
        reply = self.replies.pop(0)
        if reply is not None:
            raise reply


@pytest.mark.parametrize(
    "first",
    [
        nats.js.errors.APIError(code=409, err_code=IN_PROCESS_ERR_CODE, description="in process"),
        nats.js.errors.ServiceUnavailableError(code=503, description="no leader"),
        nats.errors.TimeoutError(),
    ],
    ids=["duplicate-id-in-process", "no-leader", "timeout"],
)
def test_transient_answers_are_retried_until_acknowledged(first: Exception) -> None:
    stream = _Stream(first, first, None)
    asyncio.run(publish_acked(stream, "s.events", b"x", {"Nats-Msg-Id": "events-0-9"}))
    assert stream.calls == 3


def test_a_refusal_is_reported_not_retried() -> None:
    refusal = nats.js.errors.APIError(code=400, err_code=10054, description="maximum size")
    stream = _Stream(refusal, None)
    with pytest.raises(DurableError, match="refused by the stream"):
        asyncio.run(publish_acked(stream, "s.events", b"x", {"Nats-Msg-Id": "events-0-9"}))
    assert stream.calls == 1
