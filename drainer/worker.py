"""The drainer process: one thread per stream, a heartbeat, and orphan recovery.

Each stream thread repeats: wait (blocking) for an event, gather up to N within the linger time,
write the batch, and only then ack it. A store outage keeps the batch in the processing list and
retries with capped exponential backoff. SIGTERM finishes the batch in hand; a second one exits now.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import orjson
from redis import Redis
from redis.exceptions import RedisError

from footfall import keys, parts
from footfall.drainer.queue import StreamQueue
from footfall.schemas import STREAMS, Stream
from footfall.settings import Settings
from footfall.stores import Batch, DeadLetter, Store, StoreUnavailable, WriteResult, store_from

log = logging.getLogger("footfall.drainer")
T = TypeVar("T")
WAIT_S = 1.0  # how long a blocking wait lasts before the thread looks at the stop flag again


class Abort(Exception):
    """A second signal: leave the batch in the processing list and go."""


class DrainerIdInUse(RuntimeError):
    pass


def _letter(stream: Stream, raw: bytes, reason: str, now: datetime) -> DeadLetter:
    """A dead letter keeps the event's own id where it has one; raw bytes are named by their hash."""
    try:
        id = orjson.loads(raw).get("_id")
    except (orjson.JSONDecodeError, AttributeError):
        id = None
    return DeadLetter(
        id=id if isinstance(id, str) else "raw-" + hashlib.sha256(raw).hexdigest()[:32],
        stream=stream.name,
        reason=reason[:2000],
        raw=raw.decode("utf-8", "replace"),
        failed_at=now,
    )


class StreamWorker:
    """Drains one stream into one store connection."""

    def __init__(self, drainer: Drainer, stream: Stream, store: Store) -> None:
        self.drainer = drainer
        self.settings = drainer.settings
        self.stream = stream
        self.store = store
        self.queue = StreamQueue(drainer.redis, stream.name, drainer.id)
        self.parts = parts.following(stream.name)  # derived data folded from this stream's events
        self.backoff_s = 0.0

    def redrive(self) -> None:
        """Write whatever is in this drainer's processing list, then ack all of it."""
        leftover = self.retry(self.queue.in_flight)
        if leftover:
            log.info("re-driving %d events left in flight", len(leftover), extra={"stream": self.stream.name})
            self.write(leftover)

    def run(self, until_empty: bool) -> None:
        self.redrive()
        # While the store writes one batch, this thread gathers the next: at most two batches are
        # ever in flight, acked in the order they came.
        with ThreadPoolExecutor(1, thread_name_prefix=f"write-{self.stream.name}") as writer:
            pending: Future[None] | None = None
            while not self.drainer.stopping.is_set():
                try:
                    batch = self.gather(until_empty)
                except RedisError as exc:
                    # Some events may have moved without our knowing: finish the batch being written,
                    # then re-drive the whole processing list, as a restarted drainer would.
                    log.warning("redis: %s; re-driving what is in flight once it answers", exc,
                                extra={"stream": self.stream.name})
                    if pending is not None:
                        pending.result()
                        pending = None
                    if self.drainer.stopping.is_set():
                        break  # stopping: the next start re-drives what is in flight
                    self.drainer.aborting.wait(0.5)
                    self.redrive()
                    continue
                if not batch:
                    if until_empty:
                        break
                    continue
                if pending is not None:
                    pending.result()
                pending = writer.submit(self.write, batch)
            if pending is not None:
                pending.result()

    def gather(self, until_empty: bool) -> list[bytes]:
        """Up to N events, or fewer once the first of them has waited the linger time.

        Burst mode (until_empty) never waits: what it drains is already queued.
        """
        size, linger = self.settings.batch_size, self.settings.linger_ms / 1000
        if until_empty:
            return self.queue.take(size)
        first = self.queue.wait_one(WAIT_S)
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + linger
        while len(batch) < size:
            batch += self.queue.take(size - len(batch))
            remaining = deadline - time.monotonic()
            if len(batch) >= size or remaining <= 0:
                break
            more = self.queue.wait_one(remaining)
            if more is None:
                break
            batch.append(more)
        return batch

    def write(self, raws: list[bytes]) -> None:
        """Store a batch, fold it into the parts that follow this stream, dead-letter what the store refuses,
        then ack it (and only then)."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        batch = Batch(raws)
        result = self.retry(lambda: self.store.insert_json(self.stream.collection, batch))
        letters = [_letter(self.stream, batch[i], reason, now) for i, reason in result.invalid]
        if self.parts:  # folded again on redelivery: every part's fold is idempotent
            stored = batch.stored(result)
            for part in self.parts:
                self.retry(lambda part=part: part.fold(self.store, stored, self.settings))  # type: ignore[misc]
        if letters:
            self.retry(lambda: self.store.dead_letter(letters))
            log.warning("dead-lettered %d events: %s", len(letters), letters[0].reason,
                        extra={"stream": self.stream.name})
        self.retry(lambda: self.queue.ack(batch))
        self.count(result, len(letters), time.perf_counter() - started)
        log.debug("wrote batch", extra={"stream": self.stream.name, "events": len(batch),
                                        "ms": round((time.perf_counter() - started) * 1000, 2)})

    def count(self, result: WriteResult, dead: int, seconds: float) -> None:
        name = self.stream.name
        try:
            with self.drainer.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(keys.STATS, keys.stat("drained", name), result.inserted)
                pipe.hincrby(keys.STATS, keys.stat("duplicates", name), result.duplicates)
                pipe.hincrby(keys.STATS, keys.stat("dead_lettered", name), dead)
                pipe.hincrby(keys.STATS, keys.stat("writes", name), 1)
                pipe.hincrbyfloat(keys.STATS, keys.stat("write_seconds", name), seconds)
                pipe.execute()
        except RedisError as exc:  # counters are best effort; the events are safe
            log.warning("could not update counters: %s", exc)

    def retry(self, step: Callable[[], T]) -> T:
        """Run a step until it succeeds, backing off while the store or Redis is unavailable."""
        attempt = 0
        while True:
            try:
                value = step()
                self.backoff_s = 0.0
                return value
            except (StoreUnavailable, RedisError) as exc:
                if self.drainer.aborting.is_set():
                    raise Abort from exc
                self.backoff_s = min(self.settings.backoff_max_s, 0.05 * 2**attempt) * random.uniform(0.5, 1)
                attempt += 1
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("%s; retrying in %.2fs (attempt %d)", exc, self.backoff_s, attempt,
                                extra={"stream": self.stream.name})
                self.drainer.aborting.wait(self.backoff_s)


class Drainer:
    def __init__(self, settings: Settings, store_factory: Callable[[], Store] | None = None) -> None:
        self.settings = settings
        self.id = settings.drainer_id or socket.gethostname()
        self.redis: Redis = Redis.from_url(settings.redis_url, socket_timeout=WAIT_S + 10,
                                           socket_connect_timeout=2.0)
        self.store_factory = store_factory or (lambda: store_from(settings))
        self.stopping = threading.Event()
        self.aborting = threading.Event()
        self.workers: list[StreamWorker] = []
        self.failed = False  # a stream worker crashed: the process should exit non-zero
        self.token = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"

    # --- liveness ----------------------------------------------------------------------------------

    def claim_id(self) -> None:
        """Refuse to share an id with a live drainer; take over one whose process is gone."""
        current = self.redis.get(keys.heartbeat(self.id))
        if current:
            owner = orjson.loads(current).get("token", "")
            host, _, rest = owner.partition(":")
            pid = int(rest.partition(":")[0] or 0)
            if host != socket.gethostname() or _alive(pid):
                raise DrainerIdInUse(f"drainer id {self.id!r} is held by {owner}; give each drainer its own --id")
        self.beat()

    def beat(self) -> None:
        state = {"token": self.token, "backoff": {w.stream.name: w.backoff_s for w in self.workers}}
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.heartbeat(self.id), orjson.dumps(state), ex=self.settings.heartbeat_ttl_s)
            pipe.sadd(keys.DRAINERS, self.id)
            pipe.execute()

    def recover_orphans(self) -> None:
        """Re-queue the processing lists of drainers whose heartbeat has expired."""
        for raw in self.redis.smembers(keys.DRAINERS):
            other = raw.decode()
            if other == self.id or self.redis.exists(keys.heartbeat(other)):
                continue
            moved = sum(StreamQueue(self.redis, s, self.id).requeue_orphan(other) for s in STREAMS)
            self.redis.srem(keys.DRAINERS, other)
            if moved:
                log.warning("re-queued %d events left by dead drainer %s", moved, other)

    def heartbeat_loop(self) -> None:
        while not self.stopping.wait(self.settings.heartbeat_s):
            try:
                self.beat()
                self.recover_orphans()
            except RedisError as exc:
                log.warning("heartbeat failed: %s", exc)

    # --- running -----------------------------------------------------------------------------------

    def run(self, until_empty: bool = False, streams: list[str] | None = None) -> None:
        store = self.store_factory()
        self.workers = [StreamWorker(self, STREAMS[s], store if i == 0 else self.store_factory())
                        for i, s in enumerate(streams or STREAMS)]
        self.workers[0].retry(lambda: parts.init(store))
        self.workers[0].retry(self.claim_id)
        self.workers[0].retry(self.recover_orphans)
        log.info("drainer %s started", self.id, extra={"streams": [w.stream.name for w in self.workers],
                                                       "batch_size": self.settings.batch_size,
                                                       "linger_ms": self.settings.linger_ms})
        beating = threading.Thread(target=self.heartbeat_loop, name="heartbeat", daemon=True)
        beating.start()
        threads = [threading.Thread(target=self._work, args=(w, until_empty), name=w.stream.name)
                   for w in self.workers]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
        self.stopping.set()
        beating.join()
        with self.redis.pipeline(transaction=False) as pipe:  # gone for good: not listed by `footfall status`
            pipe.delete(keys.heartbeat(self.id))
            pipe.srem(keys.DRAINERS, self.id)
            pipe.execute()
        for w in self.workers:
            w.store.close()
        log.info("drainer %s stopped", self.id)

    def _work(self, worker: StreamWorker, until_empty: bool) -> None:
        try:
            worker.run(until_empty)
        except Abort:
            log.warning("aborted; the batch stays in flight for the next start", extra={"stream": worker.stream.name})
        except Exception:
            log.exception("stream worker crashed", extra={"stream": worker.stream.name})
            self.failed = True
            self.stop()

    def stop(self, *_: object) -> None:
        """First call: finish the batch in hand. Second: leave now."""
        if self.stopping.is_set():
            self.aborting.set()
            log.warning("second stop signal: exiting now")
            os._exit(1)
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
