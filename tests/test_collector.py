"""The collector's HTTP contract, against a real Redis: status codes, CORS, enrichment, backpressure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from conftest import BROWSER_HEADERS, KEY, ORIGIN, OTHER_SECRET, SECRET, SERVER_HEADERS, browser_batch, page_view
from fastapi.testclient import TestClient
from redis import Redis

from footfall import keys, tokens
from footfall.cli.redis_server import RedisServer
from footfall.collector.app import create_app
from footfall.settings import Settings
from footfall.sites import Sites


def make_client(settings: Settings, sites: Sites, **overrides: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), sites), client=("203.0.113.7", 5000))


@pytest.fixture
def client(settings: Settings, sites: Sites) -> Iterator[TestClient]:
    with make_client(settings, sites) as c:
        yield c


def queued(redis: Redis, stream: str = "website_logs") -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in reversed(redis.lrange(keys.queue(stream), 0, -1))]


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/v1/events", content=content, headers={**BROWSER_HEADERS, **(headers or {})}, **kw)


def test_a_page_view_is_queued_enriched_with_its_client_event_id(client: TestClient, redis: Redis) -> None:
    event_id = str(uuid.uuid4())
    response = post(client, browser_batch([page_view(event_id=event_id, url="http://site.test/watch/bash/intro/en/",
                                                     referrer="http://search.test/?q=bash")]))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "rejected": []}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    [doc] = queued(redis)
    assert doc["_id"] == event_id and "event_id" not in doc
    assert doc["site"] == "test" and doc["source"] == "browser" and doc["type"] == "page_view"
    assert doc["path"] == "/watch/bash/intro/en/" and doc["event_name"] == "event.video.watch"
    assert doc["referrer"] == "http://search.test/?q=bash"
    assert doc["ip"] == "203.0.113.7" and doc["user_id"] is None
    assert doc["browser_family"] == "Chrome" and doc["device_type"] == "PC"
    assert doc["timestamp"] and doc["received_at"]


def test_unmatched_paths_get_the_default_name_and_are_kept(client: TestClient, redis: Redis) -> None:
    assert post(client, browser_batch([page_view(url="http://site.test/some/new/page")])).status_code == 202
    assert queued(redis)[0]["event_name"] == "event.page"


def test_missing_event_ids_are_assigned(client: TestClient, redis: Redis) -> None:
    post(client, browser_batch([page_view(), page_view()]))
    ids = [doc["_id"] for doc in queued(redis)]
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 7 for i in ids)  # time-ordered: see footfall/ids.py


def test_a_full_batch_across_streams_is_queued_whole_and_in_order(client: TestClient, redis: Redis) -> None:
    events = [page_view(title=f"line\nbreak {i}") if i % 3 else
              {"type": "exit_link", "url": "http://site.test/", "link_url": f"https://away.test/{i}"}
              for i in range(1000)]
    assert post(client, browser_batch(events)).json()["accepted"] == 1000
    assert [d["title"] for d in queued(redis)] == [f"line\nbreak {i}" for i in range(1000) if i % 3]
    assert [d["link_url"] for d in queued(redis, "exit_links")] == [f"https://away.test/{i}" for i in range(0, 1000, 3)]
    redis.delete(keys.queue("website_logs"))
    assert post(client, browser_batch([page_view(title=str(i)) for i in range(1000)])).json()["accepted"] == 1000
    assert [d["title"] for d in queued(redis)] == [str(i) for i in range(1000)]  # pushed in chunks of 1000


def test_a_single_event_body_is_accepted(client: TestClient, redis: Redis) -> None:
    assert post(client, {"key": KEY, **page_view()}).json()["accepted"] == 1
    assert post(client, page_view(), params={"key": KEY}).json()["accepted"] == 1
    assert post(client, [page_view()], headers={"X-Footfall-Key": KEY}).json()["accepted"] == 1


def test_a_partly_invalid_batch_keeps_the_valid_events_and_names_the_bad_fields(
        client: TestClient, redis: Redis) -> None:
    events = [page_view(), page_view(title=7), {"type": "exit_link"}, page_view(colour="red"), page_view()]
    response = post(client, browser_batch(events))
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "rejected": [
        {"index": 1, "field": "title", "error": "expected a string"},
        {"index": 2, "field": "link_url", "error": "is required"},
        {"index": 3, "field": "colour", "error": "unknown field"},
    ]}
    assert len(queued(redis)) == 2


def test_a_wholly_invalid_batch_is_400(client: TestClient, redis: Redis) -> None:
    response = post(client, browser_batch([page_view(title=7)]))
    assert response.status_code == 400 and response.json()["rejected"][0]["field"] == "title"
    assert queued(redis) == []


@pytest.mark.parametrize(("body", "status", "words"), [
    (b'{"key": "pk_test", "events": [', 400, "not valid JSON"),
    (b"\xff\xfe{}", 400, "not valid JSON"),
    (b'{"key": "pk_test", "events": [{"type": "page_view", "position": NaN}]}', 400, "not valid JSON"),
    (b'"just a string"', 400, "body"),
    (b'{"key": "pk_test", "events": {}}', 400, "events"),
    (b'{"key": "pk_test", "events": []}', 400, "events"),
    (b'{"key": 5, "events": [{"type": "page_view", "url": "http://x/"}]}', 400, "key"),
])
def test_malformed_bodies_are_400_with_a_message(client: TestClient, body: bytes, status: int, words: str) -> None:
    response = post(client, body)
    assert response.status_code == status
    assert words in response.json()["error"]


def test_bodies_over_the_limit_are_413(settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites, max_body_bytes=2048, max_batch_events=3) as client:
        assert post(client, browser_batch([page_view(title="x" * 1000)] * 2)).status_code == 413
        assert post(client, browser_batch([page_view()] * 4)).status_code == 413
        chunked = client.post("/v1/events", content=iter([orjson.dumps(browser_batch([page_view(title="y" * 900)]))
                                                          for _ in range(3)]), headers=BROWSER_HEADERS)
        assert chunked.status_code == 413
    assert queued(redis) == []


def test_unknown_site_key_is_401_and_foreign_origin_is_403(client: TestClient, redis: Redis) -> None:
    assert post(client, browser_batch([page_view()], key="pk_nope")).status_code == 401
    assert post(client, browser_batch([page_view()]), headers={"Origin": "http://evil.test"}).status_code == 403
    assert post(client, browser_batch([page_view()]), headers={"Origin": "http://other.test"}).status_code == 403
    no_origin = client.post("/v1/events", content=orjson.dumps(browser_batch([page_view()])))
    assert no_origin.status_code == 403
    assert queued(redis) == []


def test_cors_preflight_answers_from_the_allow_list(client: TestClient) -> None:
    ok = client.options("/v1/events", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    refused = client.options("/v1/events", headers={"Origin": "http://evil.test"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_a_browser_cannot_claim_a_user_but_a_signed_token_names_one(client: TestClient, redis: Redis) -> None:
    assert post(client, browser_batch([page_view(user_id="admin")])).json()["rejected"][0]["field"] == "user_id"
    token = tokens.issue(SECRET, "42", "ada")
    post(client, {**browser_batch([page_view()]), "user_token": token})
    forged = tokens.issue(OTHER_SECRET, "43", "mallory")
    post(client, {**browser_batch([page_view()]), "user_token": forged})
    expired = tokens.issue(SECRET, "44", "late", ttl_s=-120)
    post(client, {**browser_batch([page_view()]), "user_token": expired})
    users = [(d["user_id"], d["username"]) for d in queued(redis)]
    assert users == [("42", "ada"), (None, None), (None, None)]


def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites) as client:
        post(client, browser_batch([page_view()]), headers={"X-Forwarded-For": "81.2.69.160"})
    with make_client(settings, sites, trusted_proxies=[__import__("ipaddress").ip_network("203.0.113.0/24")]) as c:
        post(c, browser_batch([page_view()]), headers={"X-Forwarded-For": "81.2.69.160"})
    first, second = queued(redis)
    assert first["ip"] == "203.0.113.7" and first.get("country") is None
    assert second["ip"] == "81.2.69.160" and second["country_code"] == "GB"


def test_server_events_need_the_site_secret(client: TestClient, redis: Redis) -> None:
    event = {"type": "request", "path": "/accounts/login/", "method": "POST", "status_code": 302,
             "duration_ms": 12.5, "user_id": "42", "username": "ada", "ip": "2001:4860:4860::8888",
             "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
             "view_name": "login", "view_args": ["x", 1], "view_kwargs": {"foss": "bash"},
             "post_data": {"username": "ada"}, "first_time_visit": False}
    assert client.post("/v1/server-events", json={"events": [event]}).status_code == 401
    wrong = client.post("/v1/server-events", json={"events": [event]}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "site secret" in wrong.json()["error"]
    assert "Bearer" not in wrong.json()["error"].replace("'Bearer <site secret>'", "")
    response = client.post("/v1/server-events", json={"events": [event]}, headers=SERVER_HEADERS)
    assert response.status_code == 202, response.text
    [doc] = queued(redis)
    assert doc["source"] == "server" and doc["user_id"] == "42" and doc["status_code"] == 302
    assert doc["view_kwargs"] == {"foss": "bash"} and doc["view_args"] == ["x", 1]
    assert doc["device_type"] == "Bot" and doc["country_code"] == "US"
    bad_ip = client.post("/v1/server-events", json=[{**event, "ip": "300.1.1.1"}], headers=SERVER_HEADERS)
    assert bad_ip.status_code == 400 and bad_ip.json()["rejected"][0]["field"] == "ip"


def test_a_full_queue_is_503_with_retry_after(settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites, max_queue=3) as client:
        assert post(client, browser_batch([page_view()] * 3)).status_code == 202
        full = post(client, browser_batch([page_view()]))
        assert full.status_code == 503 and full.headers["retry-after"] == "5"
        assert "queue is full" in full.json()["error"]
        assert client.get("/readyz").status_code == 503
    assert len(queued(redis)) == 3


def test_redis_down_is_503_fast_not_a_hang(settings: Settings, sites: Sites, redis_server: RedisServer) -> None:
    with make_client(settings, sites) as client:
        redis_server.stop(kill=True)
        response = post(client, browser_batch([page_view()]))
        assert response.status_code == 503 and response.headers["retry-after"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_metrics_count_accepted_rejected_and_queue_depth(client: TestClient) -> None:
    post(client, browser_batch([page_view(), page_view(title=1)]))
    post(client, browser_batch([page_view()], key="nope"))
    text = client.get("/metrics").text
    assert 'footfall_events_accepted_total{source="browser",stream="website_logs"} 1.0' in text
    assert 'footfall_events_rejected_total{reason="invalid"} 1.0' in text
    assert 'footfall_events_rejected_total{reason="unauthorized"} 1.0' in text
    assert 'footfall_queue_depth{stream="website_logs"} 1.0' in text
    assert 'footfall_request_seconds_count{endpoint="events"} 2.0' in text
    assert "footfall_queue_oldest_age_seconds" in text and "footfall_events_drained_total" in text


def test_the_tracker_script_is_served_with_cache_headers(client: TestClient) -> None:
    response = client.get("/footfall.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert "max-age" in response.headers["cache-control"]
    assert b"/v1/events" in response.content


def test_openapi_describes_both_event_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/server-events"):
        assert "requestBody" in spec["paths"][path]["post"]
