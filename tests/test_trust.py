"""Every number Footfall stores can be trusted: hostile input never becomes a 500 or a stored oddity, and
nothing is accepted that can never be stored (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from conftest import BROWSER_HEADERS, SERVER_HEADERS, browser_batch, page_view
from fastapi.testclient import TestClient
from redis import Redis

from footfall import keys
from footfall.collector.app import create_app
from footfall.settings import Settings
from footfall.sites import Sites
from footfall.stores import Store


@pytest.fixture
def client(settings: Settings, sites: Sites) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sites), client=("203.0.113.7", 5000)) as c:
        yield c


def queued(redis: Redis, stream: str = "website_logs") -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in reversed(redis.lrange(keys.queue(stream), 0, -1))]


def post(client: TestClient, events: list[dict[str, Any]]) -> Any:
    return client.post("/v1/events", content=orjson.dumps(browser_batch(events)), headers=BROWSER_HEADERS)


@pytest.mark.parametrize(("field", "value"), [
    ("event_id", "0190a000-0000-7000-8000-000000000001\n"),
    ("page_view_id", "0190a000-0000-7000-8000-000000000002\n"),
    ("screen", "1x1\n"),
    ("url", "http://[abc/"),
    ("timestamp", "0001-01-01T00:00:00+00:01"),
])
def test_hostile_values_are_refused_by_name_never_a_500_or_stored(client: TestClient, redis: Redis, field: str,
                                                                 value: str) -> None:
    response = post(client, [page_view(**{field: value})])
    assert response.status_code == 400, response.text
    assert response.json()["rejected"][0]["field"] == field
    assert queued(redis) == []


@pytest.mark.parametrize("event", [
    {"type": "exit_link", "path": "/", "link_url": "https://example.org/"},
    {"type": "video_play", "path": "/watch/", "position": 1.0},
])
def test_server_events_a_server_can_never_store_are_refused_not_dead_lettered(
        client: TestClient, redis: Redis, event: dict[str, Any]) -> None:
    response = client.post("/v1/server-events", json={"events": [event] * 100}, headers=SERVER_HEADERS)
    assert response.status_code == 400, response.text
    rejected = response.json()["rejected"]
    assert len(rejected) == 100 and {r["field"] for r in rejected} == {"type"}
    assert "browser" in rejected[0]["error"]
    assert queued(redis, "exit_links") == queued(redis, "tutorial_progress") == []


def test_generated_schemas_anchor_patterns_for_each_engine() -> None:
    from footfall.generated_schemas import incoming_json_schema, mongo_validator
    from footfall.schemas import WEBSITE_LOGS

    pattern = mongo_validator(WEBSITE_LOGS)["$jsonSchema"]["properties"]["_id"]["pattern"]
    assert pattern.startswith("^(?:") and pattern.endswith(r")\z")  # PCRE's $ would allow a final newline
    [variant] = [v for v in incoming_json_schema("browser")["oneOf"] if "screen" in v["properties"]][:1]
    assert variant["properties"]["screen"]["pattern"] == r"^(?:\d{1,5}x\d{1,5})$"


# --- limits -------------------------------------------------------------------------------------------------

def make_client(settings: Settings, sites: Sites, **overrides: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), sites), client=("203.0.113.7", 5000))


def test_a_queue_never_holds_more_than_its_limit(settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites, max_queue=5) as client:
        assert post(client, [page_view()] * 4).status_code == 202
        assert post(client, [page_view()] * 2).status_code == 503  # 4 + 2 would be over 5
        assert post(client, [page_view()]).status_code == 202
    assert len(queued(redis)) == 5


def test_a_sites_server_events_have_a_budget_its_public_key_cannot_spend(
        settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites, rate_limit_site=2, rate_limit_server=3) as client:
        assert [post(client, [page_view()]).status_code for _ in range(3)] == [202, 202, 429]
        server = [client.post("/v1/server-events", json=[{"type": "request", "path": "/"}], headers=SERVER_HEADERS)
                  for _ in range(4)]
        assert [r.status_code for r in server] == [202, 202, 202, 429]


def test_failed_authentication_is_throttled_per_address(settings: Settings, sites: Sites, redis: Redis) -> None:
    with make_client(settings, sites, auth_failures=3) as client:
        wrong = {"Authorization": "Bearer sk_guess_0123456789abcdef0123456789abcdef"}
        statuses = [client.post("/v1/server-events", json=[{"type": "request", "path": "/"}], headers=wrong).status_code
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        right = client.post("/v1/server-events", json=[{"type": "request", "path": "/"}], headers=SERVER_HEADERS)
        assert right.status_code == 429 and int(right.headers["retry-after"]) <= 60  # no oracle while throttled
    other = TestClient(create_app(settings.model_copy(update={"auth_failures": 3}), sites), client=("203.0.113.8", 1))
    with other:  # counted per address: another is heard
        ok = other.post("/v1/server-events", json=[{"type": "request", "path": "/"}], headers=SERVER_HEADERS)
        assert ok.status_code == 202


def test_the_progress_api_is_rate_limited_per_learner(settings: Settings, sites: Sites, redis: Redis,
                                                     store: Store) -> None:
    from conftest import KEY, ORIGIN

    from footfall import tokens

    with make_client(settings, sites, rate_limit_learner=3) as client:
        def read(user: str) -> int:
            token = tokens.issue(sites.by_key(KEY).secret, user, user)  # type: ignore[union-attr]
            return client.get("/v1/progress", params={"key": KEY, "foss": "BASH"},
                              headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN}).status_code

        assert [read("ada") for _ in range(4)] == [200, 200, 200, 429]
        assert read("grace") == 200


def test_a_slow_body_is_408_and_never_held(settings: Settings, sites: Sites, redis: Redis) -> None:
    import asyncio

    from footfall.collector.app import Collector

    collector = Collector(settings.model_copy(update={"body_timeout_s": 0.2}), sites)

    async def trickle() -> Any:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(1)
            return {"type": "http.request", "body": b"{", "more_body": True}

        from starlette.requests import Request

        request = Request({"type": "http", "method": "POST", "path": "/v1/events", "headers": []}, receive)
        return await collector.read_json(request)

    from footfall.collector.app import Reject

    with pytest.raises(Reject) as refused:
        asyncio.run(trickle())
    assert refused.value.status == 408 and "body" in refused.value.message


def test_a_client_that_leaves_mid_upload_is_no_traceback(settings: Settings, sites: Sites) -> None:
    import asyncio

    from starlette.requests import Request

    from footfall.collector.app import Collector, Reject

    async def leave() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    request = Request({"type": "http", "method": "POST", "path": "/v1/events", "headers": []}, leave)
    with pytest.raises(Reject) as refused:
        asyncio.run(Collector(settings, sites).read_json(request))
    assert refused.value.status == 400 and refused.value.reason == "disconnected"


def test_no_redirect_echoes_the_host_header(client: TestClient) -> None:
    response = client.post("/v1/events/", headers={**BROWSER_HEADERS, "Host": "evil.example"}, content=b"{}",
                           follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


def test_readyz_is_503_while_redis_refuses_writes(client: TestClient, redis: Redis) -> None:
    assert client.get("/readyz").status_code == 200
    redis.config_set("maxmemory", 1)  # noeviction: every write is now refused for lack of memory
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.headers["retry-after"]
    finally:
        redis.config_set("maxmemory", 0)
    assert client.get("/readyz").status_code == 200


def test_a_collector_serves_at_most_its_connection_limit(settings: Settings, spawn: Any) -> None:
    """FOOTFALL_MAX_CONNECTIONS: idle sockets held open by slow clients cannot take every slot; past the
    limit a request is answered 503 at once instead of waiting."""
    import socket

    from conftest import answers, env_of, wait_until

    from footfall.cli.redis_server import free_port

    port = free_port()
    spawn(["collector", "--port", str(port)], env_of(settings, max_connections=3), "collector-limited")
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), what="the collector to start")
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        for s in held:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # and no more
        import httpx

        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 503
    finally:
        for s in held:
            s.close()
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), what="the slots to be free again")
