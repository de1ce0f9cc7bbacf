"""The drainer: batches of N or after the linger, idempotent writes, dead letters, outages, crashes, signals."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import Process, wait_until
from redis import Redis
from stores import log_doc

from footfall import keys
from footfall.drainer.worker import Drainer, DrainerIdInUse
from footfall.settings import Settings
from footfall.stores import Store, WriteResult, open_store


def push(redis: Redis, docs: list[dict[str, Any]] | list[bytes], stream: str = "website_logs") -> None:
    raws = [d if isinstance(d, bytes) else orjson.dumps(d) for d in docs]
    for start in range(0, len(raws), 1000):
        redis.lpush(keys.queue(stream), *raws[start:start + 1000])


class Recording:
    """A store that remembers the size of every batch it was given."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.batches: list[int] = []

    def insert_json(self, collection: str, raws: Any) -> WriteResult:
        self.batches.append(len(raws))
        return self.inner.insert_json(collection, raws)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def recorded(settings: Settings) -> Iterator[list[Recording]]:
    made: list[Recording] = []
    yield made
    for r in made:
        r.inner.close()


def drainer_for(settings: Settings, recorded: list[Recording] | None = None, **overrides: Any) -> Drainer:
    settings = settings.model_copy(update={"drainer_id": "test", **overrides})
    if recorded is None:
        return Drainer(settings)

    def factory() -> Store:
        store = Recording(open_store(settings.store_url))
        recorded.append(store)
        return store  # type: ignore[return-value]

    return Drainer(settings, store_factory=factory)


def run_in_background(drainer: Drainer) -> threading.Thread:
    thread = threading.Thread(target=drainer.run, daemon=True)
    thread.start()
    return thread


def test_drainer_writes_batches_of_at_most_n(settings: Settings, redis: Redis, store: Store,
                                             recorded: list[Recording]) -> None:
    push(redis, [log_doc(i) for i in range(250)])
    drainer_for(settings, recorded, batch_size=100).run(until_empty=True, streams=["website_logs"])
    assert store.count("website_logs") == 250
    assert recorded[0].batches == [100, 100, 50]
    assert redis.llen(keys.queue("website_logs")) == 0
    assert redis.hget(keys.STATS, "drained:website_logs") == b"250"


def test_low_traffic_events_are_written_after_the_linger_not_held(settings: Settings, redis: Redis, store: Store,
                                                                  recorded: list[Recording]) -> None:
    drainer = drainer_for(settings, recorded, batch_size=500, linger_ms=100)
    thread = run_in_background(drainer)
    try:
        push(redis, [log_doc(1)])
        wait_until(lambda: store.count("website_logs") == 1, timeout=10, what="a lone event to be written")
        push(redis, [log_doc(2)])
        wait_until(lambda: store.count("website_logs") == 2, timeout=10, what="the next lone event")
    finally:
        drainer.stop()
        thread.join(10)
    assert recorded[0].batches == [1, 1]


def test_redelivered_events_are_stored_once(settings: Settings, redis: Redis, store: Store) -> None:
    docs = [log_doc(i) for i in range(20)]
    push(redis, docs)
    drainer_for(settings).run(until_empty=True)
    push(redis, docs[5:15])
    drainer_for(settings).run(until_empty=True)
    assert store.count("website_logs") == 20
    assert redis.hget(keys.STATS, "duplicates:website_logs") == b"10"


def test_undecodable_and_invalid_events_are_dead_lettered_and_the_rest_stored(
        settings: Settings, redis: Redis, store: Store) -> None:
    no_site = log_doc(3)
    del no_site["site"]
    bad_time = orjson.dumps({**log_doc(4), "timestamp": "yesterday"})
    push(redis, [log_doc(0), b"{not json", log_doc(1), bad_time, no_site, b"[1, 2]", log_doc(2)])
    drainer_for(settings).run(until_empty=True)
    assert store.count("website_logs") == 3
    letters = {d["_id"]: d for d in store.find("dead_letters")}
    assert len(letters) == 4
    assert letters[no_site["_id"]]["reason"].startswith("document failed validation: site")
    assert any(d["raw"] == "{not json" and d["reason"].startswith("undecodable") for d in letters.values())
    assert any("timestamp" in d["reason"] for d in letters.values())
    assert redis.hget(keys.STATS, "dead_lettered:website_logs") == b"4"


def test_store_outage_keeps_the_batch_in_flight_and_drains_after(
        settings: Settings, redis: Redis, store: Store, tmp_path: Path) -> None:
    blocker = sqlite3.connect(settings.store_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the database is locked by another writer
    drainer = drainer_for(settings, backoff_max_s=0.3)
    thread = run_in_background(drainer)
    try:
        push(redis, [log_doc(i) for i in range(30)])
        processing = keys.processing("website_logs", "test")
        wait_until(lambda: redis.llen(processing) == 30, what="the batch to be in flight")
        time.sleep(3)  # several retries against the locked database
        assert redis.llen(processing) == 30
        blocker.execute("ROLLBACK")
        wait_until(lambda: store.count("website_logs") == 30, what="the backlog to drain")
        wait_until(lambda: redis.llen(processing) == 0, what="the batch to be acked")
    finally:
        blocker.close()
        drainer.stop()
        thread.join(10)
    assert store.count("dead_letters") == 0


def test_drainer_redrives_its_own_leftover_batch_first(settings: Settings, redis: Redis, store: Store) -> None:
    redis.lpush(keys.processing("website_logs", "test"), *[orjson.dumps(log_doc(i)) for i in range(7)])
    push(redis, [log_doc(i) for i in range(5, 12)])  # overlaps: 5 and 6 were in flight and queued again
    drainer_for(settings).run(until_empty=True)
    assert store.count("website_logs") == 12
    assert redis.exists(keys.processing("website_logs", "test")) == 0


def test_a_dead_drainers_batch_is_requeued_by_a_live_one(settings: Settings, redis: Redis, store: Store) -> None:
    redis.lpush(keys.processing("exit_links", "ghost"),
                *[orjson.dumps({**log_doc(i), "type": "exit_link", "link_url": "https://x.test/"}) for i in range(4)])
    redis.sadd(keys.DRAINERS, "ghost")  # its heartbeat key has expired
    drainer_for(settings).run(until_empty=True)
    assert store.count("exit_links") == 4
    assert redis.exists(keys.processing("exit_links", "ghost")) == 0
    assert not redis.sismember(keys.DRAINERS, "ghost")


def test_a_live_drainers_batch_is_left_alone(settings: Settings, redis: Redis, store: Store) -> None:
    redis.lpush(keys.processing("website_logs", "busy"), orjson.dumps(log_doc(1)))
    redis.sadd(keys.DRAINERS, "busy")
    redis.set(keys.heartbeat("busy"), b'{"token": "elsewhere:1:0"}', ex=30)
    drainer_for(settings).run(until_empty=True)
    assert redis.llen(keys.processing("website_logs", "busy")) == 1
    assert store.count("website_logs") == 0


def test_an_id_held_by_a_live_drainer_is_refused(settings: Settings, redis: Redis) -> None:
    import os
    import socket

    redis.set(keys.heartbeat("test"), orjson.dumps({"token": f"{socket.gethostname()}:{os.getpid()}:0"}), ex=30)
    with pytest.raises(DrainerIdInUse):
        drainer_for(settings).run(until_empty=True)


def test_sigterm_finishes_the_batch_and_exits_cleanly(
        settings: Settings, redis: Redis, store: Store, start_drainer: Callable[..., Process]) -> None:
    drainer = start_drainer("d1")
    wait_until(lambda: redis.exists(keys.heartbeat("d1")), what="the drainer to start")
    push(redis, [log_doc(i) for i in range(100)])
    wait_until(lambda: store.count("website_logs") == 100, what="events to be stored")
    drainer.signal(signal.SIGTERM)
    assert drainer.wait(15) == 0, drainer.output()
    assert redis.exists(keys.heartbeat("d1")) == 0
    assert '"drainer d1 stopped"' in drainer.output()


def test_a_second_sigterm_exits_at_once_leaving_the_batch_in_flight(
        settings: Settings, redis: Redis, store: Store, start_drainer: Callable[..., Process]) -> None:
    blocker = sqlite3.connect(settings.store_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    drainer = start_drainer("d1")
    push(redis, [log_doc(i) for i in range(40)])
    processing = keys.processing("website_logs", "d1")
    wait_until(lambda: redis.llen(processing) == 40, what="the batch to be in flight")
    drainer.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert drainer.popen.poll() is None  # still trying to finish its batch
    drainer.signal(signal.SIGTERM)
    assert drainer.wait(5) != 0
    assert redis.llen(processing) == 40
    blocker.execute("ROLLBACK")
    blocker.close()
    again = start_drainer("d1", "--until-empty")
    assert again.wait(30) == 0, again.output()
    assert store.count("website_logs") == 40
    assert redis.llen(processing) == 0


def test_batches_in_flight_are_acked_oldest_first_and_requeued_in_order(redis: Redis) -> None:
    from footfall.drainer.queue import StreamQueue

    push(redis, [str(i).encode() for i in range(10)])  # 0 is the oldest
    queue = StreamQueue(redis, "website_logs", "d")
    assert queue.take(4) == [b"0", b"1", b"2", b"3"]
    assert queue.take(3) == [b"4", b"5", b"6"]
    assert queue.in_flight() == [b"0", b"1", b"2", b"3", b"4", b"5", b"6"]
    queue.ack([b"0", b"1", b"2", b"3"])
    assert queue.in_flight() == [b"4", b"5", b"6"]
    assert queue.requeue_orphan("d") == 3
    assert queue.take(10) == [b"4", b"5", b"6", b"7", b"8", b"9"]


def test_a_drainer_that_lost_its_list_while_paused_acks_nothing_it_did_not_store(redis: Redis) -> None:
    """A takes e1–e5 and stalls; B re-queues A's list, stores and acks e1–e5; A resumes, takes e6–e8, then
    acks its first batch: e6–e8 must stay in A's list (unstored), ready for whoever re-drives it."""
    from footfall.drainer.queue import StreamQueue

    push(redis, [f"e{i}".encode() for i in range(1, 9)])
    a, b = StreamQueue(redis, "website_logs", "A"), StreamQueue(redis, "website_logs", "B")
    first = a.take(5)
    assert b.requeue_orphan("A") == 5  # A's heartbeat expired while it was paused
    assert b.take(5) == first
    b.ack(first)
    assert a.take(3) == [b"e6", b"e7", b"e8"]
    assert a.ack(first) == 0  # none of them is A's to ack any more
    assert a.in_flight() == [b"e6", b"e7", b"e8"]
    assert a.requeue_orphan("A") == 3 and b.take(10) == [b"e6", b"e7", b"e8"]  # A then dies: nothing lost


def test_acks_name_events_by_their_id_and_remove_only_those(redis: Redis) -> None:
    """Identities are the ids collectors write first; an event without one is named by its bytes. Out of
    order (the list was re-queued and refilled), each named event is removed wherever it is, once."""
    from footfall.drainer.queue import StreamQueue
    from footfall.queue import identity

    events = [b'{"_id":"e%d","site":"s"}' % i for i in range(1, 6)] + [b"not json"]
    assert identity(events[0]) == b"e1" and identity(b"not json") == b"not json"
    push(redis, events)
    queue = StreamQueue(redis, "website_logs", "A")
    taken = queue.take(6)
    assert queue.ack([taken[4], taken[1], taken[5]]) == 3  # not the oldest, not in order
    assert queue.in_flight() == [events[0], events[2], events[3]]
    assert queue.ack([b'{"_id":"e9"}']) == 0 and queue.ack(taken[:1]) == 1
    assert queue.in_flight() == [events[2], events[3]]
