"""Breaking things on purpose, on real processes: every accepted event is stored exactly once."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import BROWSER_HEADERS, Process, answers, browser_batch, env_of, page_view, wait_until
from redis import Redis

from footfall import keys
from footfall.cli.redis_server import RedisServer, free_port
from footfall.settings import Settings
from footfall.stores import Store


class Sender:
    """Keeps posting batches of page views from a thread, as the tracker does: a batch answered 503 is sent
    again, the same events with the same ids (a 503 can follow a push that landed: at-least-once)."""

    def __init__(self, url: str, total: int, batch: int = 500, pause_s: float = 0.0) -> None:
        self.url, self.total, self.batch, self.pause_s = url, total, batch, pause_s
        self.accepted: set[str] = set()
        self.refused = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=BROWSER_HEADERS, timeout=10) as client:
            events: list[dict[str, object]] = []
            while len(self.accepted) < self.total:
                events = events or [page_view(event_id=str(uuid.uuid4())) for _ in range(self.batch)]
                response = client.post("/v1/events", content=orjson.dumps(browser_batch(events)))
                if response.status_code == 202:
                    self.accepted.update(str(e["event_id"]) for e in events)
                    events = []
                else:
                    assert response.status_code == 503 and response.headers["retry-after"], response.text
                    self.refused += 1
                    time.sleep(0.05)
                time.sleep(self.pause_s)

    def __enter__(self) -> Sender:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join(120)


def all_stored_once(store: Store, ids: set[str]) -> None:
    wait_until(lambda: store.count("website_logs") >= len(ids), timeout=120, what=f"{len(ids)} events stored")
    stored = [d["_id"] for d in store.find("website_logs", limit=len(ids) + 10)]
    assert len(stored) == len(set(stored)) == len(ids) and set(stored) == ids
    assert store.count("dead_letters") == 0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_drainer_killed_at_random_points_while_100k_events_flow_stores_each_once(
        collector_url: str, start_drainer: Callable[..., Process], store: Store) -> None:
    rng = random.Random(11)
    with Sender(collector_url, 100_000) as sender:
        for _ in range(3):
            drainer = start_drainer("d1", batch_size=rng.choice([100, 500, 2000]))
            time.sleep(rng.uniform(0.5, 2.5))
            drainer.signal(signal.SIGKILL)
            drainer.wait()
    start_drainer("d1")
    all_stored_once(store, sender.accepted)


@pytest.mark.parametrize("drainers", [2, 4])
def test_several_drainers_on_the_same_streams_store_each_event_once(
        drainers: int, collector_url: str, start_drainer: Callable[..., Process], store: Store, redis: Redis) -> None:
    for i in range(drainers):
        start_drainer(f"d{i}", batch_size=100)
    with Sender(collector_url, 20_000) as sender:
        pass
    all_stored_once(store, sender.accepted)
    assert int(redis.hget(keys.STATS, "duplicates:website_logs") or 0) == 0


def test_a_drainer_paused_past_its_lease_then_killed_loses_nothing(
        settings: Settings, collector_url: str, start_drainer: Callable[..., Process], store: Store,
        redis: Redis) -> None:
    """Four drainers; one is stopped (SIGSTOP: a GC or swap pause, a frozen VM) for longer than three
    heartbeats, so the others re-queue its list; it resumes, finishes and acks what it held, takes more,
    and is killed. Its acks must not have removed events it had not stored."""
    drainers = [start_drainer(f"d{i}", batch_size=200) for i in range(4)]
    with Sender(collector_url, 60_000, batch=100, pause_s=0.01) as sender:  # events keep coming throughout
        for drainer, resumed_for in zip(drainers[:3], (0.02, 0.05, 0.1), strict=True):
            time.sleep(0.5)
            drainer.signal(signal.SIGSTOP)
            time.sleep(settings.heartbeat_ttl_s + 1.0)  # its lease is gone: the others re-queue its list
            drainer.signal(signal.SIGCONT)
            time.sleep(resumed_for)  # it acks the batch it held, and takes the next
            drainer.signal(signal.SIGKILL)
    all_stored_once(store, sender.accepted)
    # What the last killed drainer held (written, not acked) is re-queued once its lease runs out, and drained
    # again as duplicates: in the end nothing is left in flight.
    wait_until(lambda: sum(redis.llen(k) for k in redis.scan_iter(match=keys.processing("website_logs", "*"))) == 0,
               timeout=60, what="the dead drainers' lists to be re-queued and drained")
    all_stored_once(store, sender.accepted)


def test_the_store_locked_for_30_s_while_events_arrive_loses_and_dead_letters_nothing(
        settings: Settings, collector_url: str, start_drainer: Callable[..., Process], store: Store,
        redis: Redis) -> None:
    drainer = start_drainer("d1")
    blocker = sqlite3.connect(settings.store_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    locked_at = time.monotonic()
    with Sender(collector_url, 20_000, batch=100, pause_s=0.1) as sender:
        time.sleep(max(0.0, 30 - (time.monotonic() - locked_at)))
        assert store.count("website_logs") == 0 and drainer.popen.poll() is None
        assert redis.llen(keys.queue("website_logs")) > 0  # the backlog waits in Redis
        blocker.execute("ROLLBACK")
    blocker.close()
    all_stored_once(store, sender.accepted)
    assert "retrying in" in drainer.output()


def test_redis_restart_answers_503_while_down_and_keeps_what_was_accepted(
        settings: Settings, redis_server: RedisServer, collector_url: str, start_drainer: Callable[..., Process],
        store: Store) -> None:
    with Sender(collector_url, 5000) as before:
        pass
    redis_server.stop()  # a clean shutdown: the AOF has everything
    with httpx.Client(base_url=collector_url, headers=BROWSER_HEADERS, timeout=10) as client:
        started = time.monotonic()
        down = client.post("/v1/events", content=orjson.dumps(browser_batch([page_view()])))
        answered_in = time.monotonic() - started
        assert down.status_code == 503 and down.headers["retry-after"] == "5", down.text
        assert answered_in < 3, answered_in  # it answers, it does not hang
        assert client.get("/readyz").status_code == 503
    redis_server.start()
    assert Redis.from_url(redis_server.url).llen(keys.queue("website_logs")) == 5000
    drainer = start_drainer("d1")
    with Sender(collector_url, 5000, batch=100, pause_s=0.02) as during:
        time.sleep(1)
        redis_server.stop()  # and again, with a drainer working and events arriving
        time.sleep(2)
        redis_server.start()
    all_stored_once(store, before.accepted | during.accepted)
    assert drainer.popen.poll() is None, drainer.output()  # the drainer waited for Redis; it did not die


def test_memory_stays_bounded_when_the_queue_is_full(
        settings: Settings, spawn: Callable[..., Process], start_drainer: Callable[..., Process],
        redis: Redis) -> None:
    port = free_port()
    collector = spawn(["collector", "--port", str(port)], env_of(settings, max_queue=20_000), "collector")
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(f"{url}/healthz"), what="the collector")
    with Sender(url, 20_000) as fill:
        pass
    baseline = rss_mb(collector.popen.pid)
    refused = 0
    with httpx.Client(base_url=url, headers=BROWSER_HEADERS, timeout=10) as client:
        body = orjson.dumps(browser_batch([page_view() for _ in range(500)]))
        for _ in range(400):  # 200,000 more events offered to a full queue
            response = client.post("/v1/events", content=body)
            assert response.status_code == 503 and response.headers["retry-after"]
            refused += 1
    flooded = rss_mb(collector.popen.pid)
    drainer = start_drainer("d1", batch_size=2000)
    wait_until(lambda: redis.llen(keys.queue("website_logs")) == 0, timeout=60, what="the backlog to drain")
    drained = rss_mb(drainer.popen.pid)
    print(f"collector RSS {baseline:.0f} MB before, {flooded:.0f} MB after {refused} refused batches; "
          f"drainer RSS {drained:.0f} MB after draining {len(fill.accepted)} events in batches of 2000")
    assert flooded - baseline < 30  # refusing costs no memory that stays
    assert drained < 250  # the drainer holds two batches at most, not the backlog
    assert redis.llen(keys.queue("website_logs")) == 0


def test_mongodb_refusing_and_closing_connections_for_30_s_loses_and_dead_letters_nothing(
        settings: Settings, redis: Redis) -> None:
    """A drainer against MongoDB's wire protocol (mockupdb) that refuses writes, then hangs up, for 30 s
    while events keep arriving; then accepts them. Every event is inserted; none is dead-lettered."""
    from mockupdb import MockupDB

    from footfall.drainer.worker import Drainer
    from footfall.stores.mongo import MongoStore

    server = MockupDB(auto_ismaster={"maxWireVersion": 21, "minWireVersion": 0})
    server.run()
    inserted: dict[str, set[str]] = {}
    outage_ends = time.monotonic() + 30
    replies = {"refused": 0, "closed": 0}

    def mongodb(request: Any) -> bool | None:
        name = next(iter(request.doc))
        if name.lower() in ("hello", "ismaster"):
            return None  # the handshake: mockupdb's own responder answers it
        if name in ("listCollections", "listIndexes"):
            return request.ok(cursor={"id": 0, "ns": f"footfall.{request.doc[name]}", "firstBatch": []})
        if name != "insert":
            return request.ok()
        if time.monotonic() < outage_ends:
            kind = "refused" if replies["refused"] <= replies["closed"] else "closed"
            replies[kind] += 1
            return request.replies({"ok": 0, "code": 91, "errmsg": "shutdown in progress"}) if kind == "refused" \
                else request.hangup()
        docs = request.doc["documents"]
        stored = inserted.setdefault(request.doc["insert"], set())
        duplicates = [{"index": i, "code": 11000, "errmsg": "E11000"} for i, d in enumerate(docs)
                      if d["_id"] in stored]
        stored.update(d["_id"] for d in docs)
        return request.ok(n=len(docs) - len(duplicates), writeErrors=duplicates) if duplicates \
            else request.ok(n=len(docs))

    server.autoresponds(mongodb)
    drainer = Drainer(settings.model_copy(update={"drainer_id": "mongo", "backoff_max_s": 2.0}),
                      store_factory=lambda: MongoStore(f"{server.uri}/footfall", timeout_ms=1000))
    thread = threading.Thread(target=drainer.run, daemon=True)
    thread.start()
    sent: set[str] = set()
    try:
        while time.monotonic() < outage_ends + 1:  # events keep arriving through the outage
            events = [page_view(event_id=str(uuid.uuid4())) for _ in range(50)]
            for e in events:
                e.update({"_id": e.pop("event_id"), "site": "test", "source": "browser", "path": "/",
                          "event_name": "event.page", "timestamp": "2026-05-04T10:00:00.000Z",
                          "received_at": "2026-05-04T10:00:00.000Z"})
            redis.lpush(keys.queue("website_logs"), *[orjson.dumps(e) for e in events])
            sent.update(e["_id"] for e in events)
            time.sleep(0.5)
        wait_until(lambda: inserted.get("website_logs", set()) >= sent, timeout=60, what="every event inserted")
    finally:
        drainer.stop()
        thread.join(30)
        server.stop()
    assert replies["refused"] > 0 and replies["closed"] > 0
    assert inserted["website_logs"] == sent and "dead_letters" not in inserted
