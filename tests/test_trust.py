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
