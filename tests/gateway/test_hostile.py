"""Hostile and odd input: every malformed request is a clean 4xx in OpenAI's error shape.

Never a 500, never a held or charged reservation, never a count against a provider's
breaker. The class is pinned by a property test over request bodies (over HTTP and
in-process); the issue's examples are tests of their own, through the real ``openai``
client where a client can send them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.audit import AuditStore
from sentinel.errors import GatewayError
from sentinel.gateway import BackgroundServer, BreakerState, Gateway
from sentinel.gateway.settings import RoutingSettings
from tests.gateway.conftest import chat, remote_settings
from tests.gateway.fake_provider import FakeModelServer

# litellm imports provider modules lazily on its first call, and those imports warn.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

KEY = "sentinel-dev"
HEADERS = {"Authorization": f"Bearer {KEY}"}
ERROR_MEMBERS = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, fake_model: FakeModelServer
) -> Iterator[tuple[Gateway, BackgroundServer, AuditStore]]:
    """A gateway whose primary is a litellm provider at the fake upstream, with audit on."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SENTINEL_TEST_FAKE_KEY", "sk-test")
    root = tmp_path_factory.mktemp("hostile")
    routing = RoutingSettings(primary="remote", aliases={"gpt-4o-mini": "remote"})
    store = AuditStore(root / "audit.db")
    gw = Gateway(remote_settings(fake_model, routing=routing), audit=store,
                 ledger_path=root / "ledger.db")  # fmt: skip
    with BackgroundServer(gw) as server:
        yield gw, server, store
    gw.close()
    store.close()
    mp.undo()


@pytest.fixture
def client(hostile: tuple[Gateway, BackgroundServer, AuditStore]) -> Iterator[openai.OpenAI]:
    made = openai.OpenAI(base_url=hostile[1].base_url, api_key=KEY, max_retries=0)
    yield made
    made.close()


def assert_clean(gw: Gateway) -> None:
    """No reservation is held and no provider was blamed."""
    assert gw.ledger.open_reservations() == 0
    assert gw.ledger.held_matches_reservations()
    for breaker in gw.breakers.values():
        assert breaker.state is BreakerState.CLOSED
        assert breaker.consecutive_failures == 0


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ERROR_MEMBERS
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and isinstance(error["type"], str)
    return dict(error)


def post(server: BackgroundServer, content: bytes) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", content=content, headers=HEADERS,
                      timeout=30)  # fmt: skip


def test_deep_nesting_is_400(hostile: tuple[Gateway, BackgroundServer, AuditStore]) -> None:
    gw, server, _ = hostile
    for depth in (65, 5_000, 200_000):
        deep = (
            b'{"model": "remote", "messages": [{"role": "user", "content": '
            + (b"[" * depth + b"]" * depth)
            + b"}]}"
        )
        response = post(server, deep)
        assert response.status_code == 400
        assert "nested more than 64" in assert_error_shape(response)["message"]
    assert_clean(gw)


def test_lone_surrogate_is_400_not_a_provider_failure(
    hostile: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, store = hostile
    fake = fake_model.reset()
    before = len(store)
    for _ in range(6):  # more than the breaker's five consecutive failures
        response = post(server, b'{"model": "remote", "messages": '
                                b'[{"role": "user", "content": "hi \\ud800 there"}]}')  # fmt: skip
        error = assert_error_shape(response)
        assert response.status_code == 400
        assert error["param"] == "messages.0.content" and "surrogate" in error["message"]
    assert fake.calls == 0
    assert_clean(gw)
    refused = list(store.read(stream="gateway", start=before))
    assert len(refused) == 6 and all(e.payload["decision"] == "refused" for e in refused)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "remote", "messages": "hello"}, "messages"),
        ({"model": "remote", "messages": [{"role": 5, "content": "x"}]}, "messages.0.role"),
        ({"model": "remote", "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"model": 7, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({**chat("x", model="remote"), "max_tokens": "many"}, "max_tokens"),
        ({**chat("x", model="remote"), "max_tokens": 10**30}, "max_tokens"),
        ({**chat("x", model="remote"), "temperature": 1e308 * 10}, "temperature"),
        ({**chat("x", model="remote"), "n": 0}, "n"),
        ({**chat("x", model="remote"), "tools": {"a": 1}}, "tools"),
        ({**chat("x", model="remote"), "sentinel": {"tick": 2**64}}, "sentinel.tick"),
        ({**chat("x", model="remote"), "sentinel": {"nope": 1}}, "sentinel.nope"),
        ([1, 2, 3], None),
        ("just a string", None),
    ],
)
def test_wrong_types_are_400_naming_the_member(
    hostile: tuple[Gateway, BackgroundServer, AuditStore], body: object, param: str | None
) -> None:
    gw, server, _ = hostile
    response = post(server, json.dumps(body).encode())
    assert response.status_code == 400
    assert assert_error_shape(response)["param"] == param
    assert_clean(gw)


def test_huge_numbers_are_400(hostile: tuple[Gateway, BackgroundServer, AuditStore]) -> None:
    gw, server, _ = hostile
    digits = b"9" * 5_000  # beyond Python's int-from-text limit
    for member in (b'"max_tokens"', b'"seed"'):
        response = post(server, b'{"model": "remote", "messages": [{"role": "user", '
                                b'"content": "x"}], ' + member + b": " + digits + b"}")  # fmt: skip
        assert response.status_code == 400
        assert_error_shape(response)
    assert_clean(gw)


def test_max_tokens_over_the_model_limit_is_400_not_402(
    hostile: tuple[Gateway, BackgroundServer, AuditStore], client: openai.OpenAI
) -> None:
    gw, _, _ = hostile
    with pytest.raises(openai.BadRequestError) as over:
        client.chat.completions.create(model="remote", max_tokens=2_000_000,
                                       messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert over.value.status_code == 400 and over.value.param == "max_tokens"
    # A model litellm knows is held to its own limit (gpt-4o-mini writes at most 16,384).
    with pytest.raises(openai.BadRequestError) as known:
        client.chat.completions.create(model="offline", max_tokens=200_000,
                                       messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert known.value.param == "max_tokens"
    assert_clean(gw)


def test_unknown_paths_are_json_404(
    hostile: tuple[Gateway, BackgroundServer, AuditStore], client: openai.OpenAI
) -> None:
    gw, server, _ = hostile
    with pytest.raises(openai.NotFoundError) as embeddings:
        client.embeddings.create(model="remote", input="hello")
    assert embeddings.value.code == "unknown_url"
    root = server.base_url.removesuffix("/v1")
    for method, path in (("POST", "/v1/completions"), ("GET", "/nope"), ("GET", "/v1/files"),
                         ("DELETE", "/v1/chat/completions")):  # fmt: skip
        response = httpx.request(method, root + path, headers=HEADERS)
        assert response.status_code in (404, 405)
        assert assert_error_shape(response)["type"] == "invalid_request_error"
    assert client.models.retrieve("remote").id == "remote"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("no-such-model")
    assert missing.value.code == "model_not_found"
    assert_clean(gw)


def test_unknown_model_is_404_unless_an_alias_maps_it(
    hostile: tuple[Gateway, BackgroundServer, AuditStore],
    client: openai.OpenAI,
    fake_model: FakeModelServer,
) -> None:
    gw, _, _ = hostile
    fake = fake_model.reset()
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-5-ultra",
                                       messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    assert fake.calls == 0
    aliased = client.chat.completions.create(model="gpt-4o-mini",
                                             messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert (aliased.model_extra or {})["sentinel"]["provider"] == "remote"
    assert fake.calls == 1
    assert_clean(gw)


def test_upstream_429_is_passed_through_with_retry_after(
    hostile: tuple[Gateway, BackgroundServer, AuditStore],
    client: openai.OpenAI,
    fake_model: FakeModelServer,
) -> None:
    gw, _, _ = hostile
    fake_model.reset(status=429, retry_after="7")
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="remote",
                                       messages=[{"role": "user", "content": "x"}])  # fmt: skip
    assert limited.value.status_code == 429 and limited.value.code == "upstream_rate_limited"
    assert limited.value.response.headers["retry-after"] == "7"
    assert gw.ledger.open_reservations() == 0
    # An upstream 429 is the provider's condition (SEED_NOTES counts it); reset the breaker.
    fake_model.reset()
    gw.breakers["remote"].record(success=True)
    assert_clean(gw)


def test_upstream_4xx_is_the_clients_fault_not_the_providers(
    hostile: tuple[Gateway, BackgroundServer, AuditStore],
    client: openai.OpenAI,
    fake_model: FakeModelServer,
) -> None:
    gw, _, _ = hostile
    fake = fake_model.reset(status=400)
    for _ in range(8):
        with pytest.raises(openai.BadRequestError) as rejected:
            client.chat.completions.create(model="remote",
                                           messages=[{"role": "user", "content": "x"}])  # fmt: skip
        assert rejected.value.code == "upstream_rejected"
    assert fake.calls == 8
    fake_model.reset()
    assert_clean(gw)
    assert (
        client.chat.completions.create(model="remote", messages=[{"role": "user", "content": "x"}])
        .choices[0]
        .message.content
    )


# -- the class: any body -----------------------------------------------------------------------

_SURROGATES = st.characters(codec=None, min_codepoint=0xD800, max_codepoint=0xDFFF,
                            categories=["Cs"])  # fmt: skip
_TEXT = st.one_of(st.text(max_size=40), st.text(alphabet=_SURROGATES, min_size=1, max_size=3),
                  st.sampled_from(["", "user", "system", "tool", "remote", "auto", "offline"]))  # fmt: skip
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), _TEXT)  # fmt: skip
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)  # fmt: skip
_MESSAGE = st.fixed_dictionaries(
    {"role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool", "developer"]),
                       _JSON)},
    optional={"content": st.one_of(_TEXT, _JSON,
                                   st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                                   "text": _TEXT}), max_size=2)),
              "tool_calls": _JSON, "tool_call_id": _JSON, "name": _JSON},
)  # fmt: skip
_BODY = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(_MESSAGE, min_size=1, max_size=3), _JSON)},
    optional={
        "model": st.one_of(st.sampled_from(["remote", "offline", "auto", "gpt-4o-mini"]), _JSON),
        "max_tokens": st.one_of(st.integers(min_value=-5, max_value=2**64), _JSON),
        "temperature": st.one_of(st.floats(), _JSON),
        "n": st.one_of(st.integers(min_value=-1, max_value=200), _JSON),
        "stream": _JSON, "stop": _JSON, "seed": _JSON, "top_p": _JSON, "tools": _JSON,
        "tool_choice": _JSON, "response_format": _JSON, "logit_bias": _JSON,
        "sentinel": st.one_of(_JSON, st.fixed_dictionaries({}, optional={
            "tick": st.integers(min_value=-1, max_value=2**70), "agent_id": _TEXT,
            "fingerprint": _TEXT, "perception": _JSON, "impulse": _TEXT})),
    },
)  # fmt: skip


def _encode(body: object) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \ud800 escapes


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(body=_BODY)
def test_any_body_over_http_is_answered_or_a_clean_4xx(
    hostile: tuple[Gateway, BackgroundServer, AuditStore],
    fake_model: FakeModelServer,
    body: dict[str, Any],
) -> None:
    gw, server, _ = hostile
    fake_model.reset()
    response = post(server, _encode(body))
    if response.status_code != 200:
        assert_error_shape(response)
    assert_clean(gw)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(raw=st.one_of(st.binary(max_size=200), _JSON.map(_encode),
                     st.integers(1, 3000).map(lambda d: b"[" * d + b"]" * d)))  # fmt: skip
def test_any_bytes_over_http_are_a_clean_4xx(
    hostile: tuple[Gateway, BackgroundServer, AuditStore], raw: bytes
) -> None:
    gw, server, _ = hostile
    response = post(server, raw)
    assert response.status_code == 400
    assert_error_shape(response)
    assert_clean(gw)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(body=_BODY)
def test_any_body_in_process_is_answered_or_a_4xx_gateway_error(
    hostile: tuple[Gateway, BackgroundServer, AuditStore],
    fake_model: FakeModelServer,
    body: dict[str, Any],
) -> None:
    gw, _, _ = hostile
    fake_model.reset()
    try:
        gw.complete(body, api_key=KEY)
    except GatewayError as exc:
        assert exc.status < 500, exc
    assert_clean(gw)
