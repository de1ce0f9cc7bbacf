"""End to end on real processes: uvicorn collector, redis-server, drainer, SQLite store."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from conftest import (
    BROWSER_HEADERS,
    SERVER_HEADERS,
    Process,
    browser_batch,
    env_of,
    page_view,
    wait_until,
)
from redis import Redis

from footfall import keys
from footfall.settings import Settings
from footfall.stores import Store


def send(url: str, events: list[dict[str, Any]], batch: int = 100) -> int:
    accepted = 0
    with httpx.Client(base_url=url, headers=BROWSER_HEADERS, timeout=10) as client:
        for start in range(0, len(events), batch):
            response = client.post("/v1/events", content=orjson.dumps(browser_batch(events[start:start + batch])))
            assert response.status_code == 202, response.text
            accepted += response.json()["accepted"]
    return accepted


def test_events_sent_over_http_are_stored_with_every_field(
        collector_url: str, start_drainer: Callable[..., Process], store: Store) -> None:
    start_drainer("d1")
    event_id = str(uuid.uuid4())
    browser = page_view(event_id=event_id, url="http://site.test/watch/bash/intro/en/", referrer="http://r.test/",
                        title="Intro", screen="1920x1080", language="en-GB", tz_offset=60, first_time_visit=True,
                        timestamp="2026-11-21T10:00:00.250+01:00")
    exit_link = {"type": "exit_link", "url": "http://site.test/", "link_url": "https://elsewhere.test/"}
    progress = {"type": "video_progress", "url": "http://site.test/watch/bash/intro/en/", "foss": "bash",
                "tutorial": "intro", "language_name": "English", "position": 61.2, "duration": 300.0, "minute": 1}
    assert send(collector_url, [browser, exit_link, progress]) == 3
    server_event = {"type": "request", "path": "/", "method": "GET", "status_code": 200, "duration_ms": 3.2,
                    "ip": "81.2.69.160", "user_agent": "curl/8.0", "user_id": "7", "username": "ada"}
    response = httpx.post(f"{collector_url}/v1/server-events", json={"events": [server_event]},
                          headers=SERVER_HEADERS)
    assert response.status_code == 202

    wait_until(lambda: store.count("website_logs") == 2 and store.count("exit_links") == 1
               and store.count("progress_events") == 1, what="all four events to be stored")
    doc = store.get("website_logs", event_id)
    assert doc is not None
    assert doc["timestamp"] == datetime(2026, 11, 21, 9, 0, 0, 250000, tzinfo=UTC)
    assert doc["received_at"].tzinfo is not None
    for field in ("path", "event_name", "ip", "referrer", "title", "browser_family", "os_family", "device_family",
                  "device_type", "first_time_visit", "site", "source", "screen", "language", "tz_offset"):
        assert doc.get(field) is not None, field
    assert doc["event_name"] == "event.video.watch" and doc["user_id"] is None
    [server_doc] = store.find("website_logs", source="server")
    assert server_doc["country_code"] == "GB" and server_doc["user_id"] == "7" and server_doc["status_code"] == 200
    assert server_doc["event_name"] == "event.home.view"
    assert store.find("progress_events")[0]["minute"] == 1


def test_drainer_killed_mid_stream_stores_every_event_exactly_once(
        settings: Settings, redis: Redis, collector_url: str, start_drainer: Callable[..., Process],
        store: Store) -> None:
    total = 20_000
    events = [page_view(event_id=str(uuid.uuid4()), title=f"t{i}") for i in range(total)]
    assert send(collector_url, events, batch=500) == total
    drainer_args = {"batch_size": 200}
    for kill in range(3):
        drainer = start_drainer("d1", **drainer_args)
        floor = (kill + 1) * total // 5
        wait_until(lambda floor=floor: store.count("website_logs") >= floor, timeout=60, interval=0.005,
                   what=f"{floor} events to be stored")
        drainer.signal(signal.SIGKILL)
        drainer.wait()
        assert store.count("website_logs") < total, "the kill came too late to prove anything"
    finisher = start_drainer("d1", "--until-empty", **drainer_args)
    assert finisher.wait(120) == 0, finisher.output()
    assert store.count("website_logs") == total
    stored = {d["_id"] for d in store.find("website_logs", limit=total + 1)}
    assert stored == {e["event_id"] for e in events}
    assert redis.llen(keys.queue("website_logs")) == 0
    assert redis.llen(keys.processing("website_logs", "d1")) == 0


def test_several_drainers_at_once_store_each_event_once(
        settings: Settings, redis: Redis, collector_url: str, start_drainer: Callable[..., Process],
        store: Store) -> None:
    events = [page_view(event_id=str(uuid.uuid4())) for _ in range(5000)]
    for name in ("a", "b", "c"):
        start_drainer(name, batch_size=100)
    random.shuffle(events)
    assert send(collector_url, events, batch=250) == 5000
    wait_until(lambda: store.count("website_logs") == 5000, timeout=60, what="every event to be stored")
    stats = {k.decode(): float(v) for k, v in redis.hgetall(keys.STATS).items()}
    assert stats["drained:website_logs"] == 5000 and stats.get("duplicates:website_logs", 0) == 0


def test_status_json_reports_queues_drainers_and_documents(
        settings: Settings, redis: Redis, collector_url: str, store: Store) -> None:
    send(collector_url, [page_view() for _ in range(3)])
    httpx.post(f"{collector_url}/v1/events", content=b"{", headers=BROWSER_HEADERS)
    result = subprocess.run([sys.executable, "-m", "footfall.cli", "status", "--json"], env=env_of(settings),
                            capture_output=True, check=True, timeout=30)
    status = orjson.loads(result.stdout)
    assert status["streams"]["website_logs"]["waiting"] == 3
    assert status["streams"]["website_logs"]["accepted"] == 3
    assert status["streams"]["website_logs"]["oldest_age_s"] >= 0
    assert status["streams"]["website_logs"]["in_flight"] == 0
    assert status["dead_letters"] == 0 and status["rejected"] == {"malformed": 1}
    assert status["store"]["documents"] == {"website_logs": 0, "exit_links": 0, "progress_events": 0, "bot_logs": 0,
                                            "edx_events": 0, "imports": 0, "course_blocks": 0,
                                            "dead_letters": 0}  # edX imports too
    drained = subprocess.run([sys.executable, "-m", "footfall.cli", "drainer", "--id", "x", "--until-empty"],
                             env=env_of(settings), capture_output=True, timeout=60)
    assert drained.returncode == 0, drained.stderr
    status = orjson.loads(subprocess.run([sys.executable, "-m", "footfall.cli", "status", "--json"],
                                         env=env_of(settings), capture_output=True, check=True).stdout)
    assert status["streams"]["website_logs"]["drained"] == 3
    assert status["streams"]["website_logs"]["write_ms_mean"] > 0
    assert status["store"]["documents"]["website_logs"] == 3


def test_metrics_show_store_write_latency_and_each_drainers_backoff(
        settings: Settings, collector_url: str, start_drainer: Callable[..., Process], store: Store) -> None:
    import sqlite3

    start_drainer("d1")
    send(collector_url, [page_view() for _ in range(10)])
    wait_until(lambda: store.count("website_logs") == 10, what="events to be stored")
    text = httpx.get(f"{collector_url}/metrics").text
    assert 'footfall_store_write_seconds_count{stream="website_logs"}' in text
    assert "footfall_drainers 1.0" in text
    blocker = sqlite3.connect(settings.store_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        send(collector_url, [page_view()])

        def backing_off() -> bool:
            metrics = httpx.get(f"{collector_url}/metrics").text
            line = next((m for m in metrics.splitlines()
                         if m.startswith('footfall_drainer_backoff_seconds{drainer="d1",stream="website_logs"}')), "")
            return bool(line) and float(line.split()[-1]) > 0

        wait_until(backing_off, what="the drainer's backoff to show in the metrics")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
