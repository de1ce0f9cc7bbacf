"""Hostile input: schema-driven fuzzing of every endpoint (schemathesis, on the collector's own OpenAPI)
and property-based fuzzing of what the schemas cannot describe (Hypothesis). Whatever arrives: no 500,
no crash, and nothing queued from a request that was refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import schemathesis
from conftest import BROWSER_HEADERS, KEY, SECRET
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis

from footfall import keys, tokens
from footfall.cli.redis_server import RedisServer
from footfall.codec import Invalid, encode
from footfall.collector.app import create_app
from footfall.schemas import STREAMS
from footfall.settings import Settings
from footfall.sites import Sites
from footfall.validation import is_canonical_document, validate_document, validate_incoming

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=20)


@pytest.fixture(scope="module")
def fuzz_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop(kill=True)


@pytest.fixture(scope="module")
def app(fuzz_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import SITES_TOML

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "sites.toml").write_text(SITES_TOML)
    settings = Settings(redis_url=fuzz_redis.url, store_url=f"sqlite:///{folder / 'fuzz.db'}",
                        sites=folder / "sites.toml", max_body_bytes=65536)
    return create_app(settings, Sites.load(folder / "sites.toml"))


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def queued(redis: Redis) -> int:
    return sum(redis.llen(keys.queue(s)) for s in STREAMS)


schema = schemathesis.pytest.from_fixture("api_schema")
LEARNER = tokens.issue(SECRET, "ada", "ada", ttl_s=86_400)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_endpoint_answers_500_or_queues_from_a_refused_request(case: Any, fuzz_redis: RedisServer) -> None:
    redis = Redis.from_url(fuzz_redis.url)
    before = queued(redis)
    headers = {**BROWSER_HEADERS, "Authorization": f"Bearer {SECRET if 'server' in case.path else LEARNER}"}
    if case.path == "/v1/events" or case.path.startswith("/v1/progress"):
        case.query = {**(case.query or {}), "key": KEY}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.path, response.status_code, response.text[:300])
    if response.status_code != 202:
        assert queued(redis) == before, (case.path, response.status_code, response.text[:300])


@given(event=JSON)
@settings(max_examples=300, deadline=None)
def test_validation_refuses_anything_malformed_with_invalid_never_a_crash(event: Any) -> None:
    for source in ("browser", "server"):
        try:
            validate_incoming(event, source)  # type: ignore[arg-type]
        except Invalid as exc:
            assert exc.field and exc.message


@given(fields=st.dictionaries(st.sampled_from(["url", "title", "timestamp", "props", "screen", "tz_offset",
                                               "event_id", "referrer", "first_time_visit", "position"]),
                              JSON, max_size=6),
       kind=st.sampled_from(["page_view", "custom", "video_progress", "exit_link"]))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_body_gets_a_clear_answer_and_only_accepted_events_are_queued(
        fields: dict[str, Any], kind: str, app: Any, fuzz_redis: RedisServer) -> None:
    redis = Redis.from_url(fuzz_redis.url)
    before = queued(redis)
    with TestClient(app) as client:
        body = json.dumps({"key": KEY, "events": [{"type": kind, **fields}]}).encode()  # big ints too
        response = client.post("/v1/events", content=body, headers=BROWSER_HEADERS)
    assert response.status_code in (202, 400), response.text
    body = response.json()
    assert queued(redis) - before == body.get("accepted", 0)
    for rejected in body.get("rejected", []):
        assert rejected["field"] and rejected["error"]


@pytest.mark.parametrize(("body", "status"), [
    (b'{"key": "pk_test", "events": [' + b"[" * 5000 + b"]" * 5000 + b"]}", 400),  # deeply nested
    (orjson.dumps({"key": KEY, "events": [{"type": "page_view", "url": "x", "props": {"a": list(range(60_000))}}]}),
     413),  # a huge array
    (orjson.dumps({"key": KEY, "events": [{"type": "page_view", "title": "x" * 2_000_000}]}), 413),  # a huge string
    (b'{"key": "pk_test", "events": [{"type": "page_view", "url": "x", "tz_offset": 1e999}]}', 400),  # Infinity
    (b'{"key": "pk_test", "events": [{"type": "page_view", "url": "x", "tz_offset": 99999999999999999999999}]}',
     400),  # an integer out of range
    (b'{"key": "pk_test", "events": [{"type": "page_view", "url": "x", "props": {"n": 1e308, "m": -1e308}}]}',
     202),  # large but finite numbers are numbers
])
def test_explicit_hostile_bodies_get_clear_answers(app: Any, body: bytes, status: int) -> None:
    with TestClient(app) as client:
        response = client.post("/v1/events", content=body, headers=BROWSER_HEADERS)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json"


def test_script_in_strings_is_stored_as_data(app: Any, fuzz_redis: RedisServer) -> None:
    script = "<script>alert('x')</script>"
    with TestClient(app) as client:
        response = client.post("/v1/events", headers=BROWSER_HEADERS, content=orjson.dumps(
            {"key": KEY, "events": [{"type": "page_view", "url": "http://site.test/", "title": script}]}))
    assert response.status_code == 202
    raw = Redis.from_url(fuzz_redis.url).lindex(keys.queue("website_logs"), 0)
    assert orjson.loads(raw)["title"] == script  # kept verbatim, as data; pages that show it escape it


VALID = {"_id": "01a200bd-f8d9-786e-afd8-ab650e42b780", "site": "s", "source": "browser", "type": "page_view",
         "event_name": "event.page", "path": "/", "timestamp": datetime(2026, 11, 22, 1, 2, 3, 456000, tzinfo=UTC),
         "received_at": datetime(2026, 11, 22, 1, 2, 3, 457000, tzinfo=UTC), "latitude": 1.5, "tz_offset": 60}
NOT_TIMES = sorted(n for n, f in STREAMS["website_logs"].fields.items() if f.type != "datetime")


@settings(max_examples=400, deadline=None)
@given(changes=st.dictionaries(st.sampled_from([*NOT_TIMES, "unknown", "$where"]), JSON, max_size=3))
def test_a_document_is_valid_queued_as_json_exactly_when_it_is_valid_as_a_document(changes: dict[str, Any]) -> None:
    doc = {**VALID, **changes}
    try:
        raw = encode(doc)
    except TypeError:  # beyond 64-bit integers: never queued
        return
    try:
        validate_document("website_logs", doc)
        valid = True
    except Invalid:
        valid = False
    assert is_canonical_document("website_logs", raw) is valid
