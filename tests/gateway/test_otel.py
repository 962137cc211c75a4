"""OTLP export of the gateway's gen_ai spans, against a local OTLP/HTTP receiver.

The receiver is a small HTTP server that decodes each request body as OTLP's
``ExportTraceServiceRequest`` protobuf, the real protocol a collector speaks.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sentinel.gateway import BackgroundServer, Gateway
from sentinel.gateway.settings import AuthSettings, OtelSettings
from tests.gateway.conftest import settings_with


class Receiver:
    """An OTLP/HTTP traces endpoint on loopback that keeps the decoded spans."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.content_types.append(self.headers.get("Content-Type", ""))
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append({
                                "name": span.name, "path": self.path, "resource": resource,
                                "scope": scope_spans.scope.name, "kind": span.kind,
                                "status": span.status.code, "start": span.start_time_unix_nano,
                                "end": span.end_time_unix_nano,
                                "attributes": {a.key: _value(a.value) for a in span.attributes},
                            })  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_spans_reach_an_otlp_receiver(receiver: Receiver, tmp_path: Path) -> None:
    otel = OtelSettings(enabled=True, endpoint=receiver.endpoint, service_name="gw-test")
    gw = Gateway(settings_with(otel=otel, auth=AuthSettings(clients={"sk-plain": "ci-bot"})),
                 ledger_path=tmp_path / "l.db")  # fmt: skip
    with (
        BackgroundServer(gw) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-plain", max_retries=0) as client,
    ):
        answer = client.chat.completions.create(
            model="offline", messages=[{"role": "user", "content": "hello"}], max_tokens=20
        )
        with pytest.raises(openai.AuthenticationError):
            client.with_options(api_key="wrong").chat.completions.create(
                model="offline", messages=[{"role": "user", "content": "hello"}]
            )
    gw.close()  # sends what is queued
    assert receiver.content_types and set(receiver.content_types) == {"application/x-protobuf"}
    assert len(receiver.spans) == 2
    ok, refused = sorted(receiver.spans, key=lambda s: s["status"])
    assert ok["name"] == "chat offline" and ok["path"] == "/v1/traces"
    assert ok["resource"]["service.name"] == "gw-test" and ok["scope"] == "sentinel.gateway"
    assert ok["kind"] == 3  # SPAN_KIND_CLIENT
    attributes = ok["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.agent.id"] == "ci-bot"
    assert attributes["gen_ai.response.id"] == answer.id
    assert answer.usage is not None
    assert attributes["gen_ai.usage.input_tokens"] == answer.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens
    assert attributes["gen_ai.request.max_tokens"] == 20
    assert 0 < ok["start"] < ok["end"]
    assert refused["status"] == 2  # STATUS_CODE_ERROR
    assert refused["attributes"]["error.type"] == "unknown_agent"


def test_export_is_off_by_default(receiver: Receiver, tmp_path: Path) -> None:
    gw = Gateway(settings_with(), ledger_path=tmp_path / "l.db")
    assert gw.spans is None
    gw.complete({"model": "offline", "messages": [{"role": "user", "content": "hi"}]},
                agent_id="DEMO-01")  # fmt: skip
    gw.close()
    # The control: the same gateway with export on sends the span to the receiver.
    otel = OtelSettings(enabled=True, endpoint=receiver.endpoint)
    gw = Gateway(settings_with(otel=otel), ledger_path=tmp_path / "l.db")
    gw.complete({"model": "offline", "messages": [{"role": "user", "content": "hi"}]},
                agent_id="DEMO-01")  # fmt: skip
    gw.close()
    assert [s["name"] for s in receiver.spans] == ["chat offline"]
