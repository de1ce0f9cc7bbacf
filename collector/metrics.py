"""The collector's Prometheus metrics, with the drainers' counters and queue state read from Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from footfall import keys
from footfall.queue import oldest_age, peek_oldest
from footfall.schemas import STREAMS

DRAINER_COUNTERS = {
    "drained": "events written to the store",
    "duplicates": "redelivered events skipped because they were already stored",
    "dead_lettered": "events the store refused, kept in dead_letters",
}


class QueueState(Collector):
    """Queue depth, in-flight and oldest-event age per stream, and the drainers' counters."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}

    async def refresh(self, redis: Redis) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for stream in STREAMS:
                pipe.llen(keys.queue(stream))
                peek_oldest(pipe, keys.queue(stream))
            pipe.hgetall(keys.STATS)
            pipe.smembers(keys.DRAINERS)
            replies = await pipe.execute()
        drainers = sorted(d.decode() for d in replies[-1])
        beats = await redis.mget([keys.heartbeat(d) for d in drainers]) if drainers else []
        now = time.time()
        depth, age = {}, {}
        for i, stream in enumerate(STREAMS):
            depth[stream] = replies[2 * i]
            age[stream] = oldest_age(replies[2 * i + 1], now)
        stats = {k.decode(): float(v) for k, v in replies[-2].items()}
        backoff = {d: orjson.loads(b).get("backoff", {}) for d, b in zip(drainers, beats, strict=True) if b}
        self.snapshot = {"depth": depth, "age": age, "stats": stats, "backoff": backoff}

    def collect(self) -> Iterator[Any]:
        if not self.snapshot:
            return
        depth = GaugeMetricFamily("footfall_queue_depth", "events waiting in a stream", labels=["stream"])
        age = GaugeMetricFamily("footfall_queue_oldest_age_seconds", "age of the oldest waiting event",
                                labels=["stream"])
        for stream in STREAMS:
            depth.add_metric([stream], self.snapshot["depth"][stream])
            age.add_metric([stream], self.snapshot["age"][stream])
        yield depth
        yield age
        stats = self.snapshot["stats"]
        for counter, help_text in DRAINER_COUNTERS.items():
            family = CounterMetricFamily(f"footfall_events_{counter}", help_text, labels=["stream"])
            for stream in STREAMS:
                family.add_metric([stream], stats.get(keys.stat(counter, stream), 0))
            yield family
        writes = SummaryMetricFamily("footfall_store_write_seconds", "time to store a batch (all drainers)",
                                     labels=["stream"])
        for stream in STREAMS:
            writes.add_metric([stream], stats.get(keys.stat("writes", stream), 0),
                              stats.get(keys.stat("write_seconds", stream), 0.0))
        yield writes
        alive = GaugeMetricFamily("footfall_drainers", "drainers with a live heartbeat")
        alive.add_metric([], len(self.snapshot["backoff"]))
        yield alive
        backoff = GaugeMetricFamily("footfall_drainer_backoff_seconds",
                                    "how long a drainer is waiting before retrying the store (0: writing)",
                                    labels=["drainer", "stream"])
        for drainer, streams in self.snapshot["backoff"].items():
            for stream, seconds in streams.items():
                backoff.add_metric([drainer, stream], seconds)
        yield backoff


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("footfall_events_accepted", "events queued", ["stream", "source"],
                                registry=self.registry)
        self.rejected = Counter("footfall_events_rejected", "events or requests refused", ["reason"],
                                registry=self.registry)
        self.latency = Histogram("footfall_request_seconds", "collector request latency", ["endpoint"],
                                 registry=self.registry,
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
        self.queue = QueueState()
        self.registry.register(self.queue)
