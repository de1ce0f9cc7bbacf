"""The collector's push to Redis: pushes waiting together share one pipeline, and each is still
answered on its own, all or nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from footfall import keys
from footfall.cli.redis_server import RedisServer
from footfall.collector.queue import PUSH, EventQueue, Limits, QueueUnavailable, RateLimited


class CountingRedis:
    """The async client, counting the pipelines it is asked for."""

    def __init__(self, inner: AsyncRedis) -> None:
        self.inner = inner
        self.pipelines = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.pipelines += 1
        return self.inner.pipeline(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def push_together(url: str, n: int, limits: Limits, ips: list[str] | None = None) -> tuple[list[Any], int]:
    """n pushes started in the same turn of the event loop; their outcomes and the pipelines used."""

    async def run() -> tuple[list[Any], int]:
        client = CountingRedis(AsyncRedis.from_url(url))
        queue = EventQueue(client, limits)  # type: ignore[arg-type]
        try:
            outcomes = await asyncio.gather(
                *(queue.push({"website_logs": [b'{"n":%d}' % i]}, (ips or ["10.0.0.1"] * n)[i], "site")
                  for i in range(n)), return_exceptions=True)
            return outcomes, client.pipelines
        finally:
            await client.inner.aclose()

    return asyncio.run(run())


def test_pushes_waiting_together_share_one_pipeline_and_keep_their_order(redis_server: RedisServer,
                                                                         redis: Redis) -> None:
    redis.script_load(PUSH)  # else the first pipeline finds no script, loads it and runs again
    outcomes, pipelines = push_together(redis_server.url, 50, Limits(per_ip=0, per_site=0, max_queue=1000))
    assert outcomes == [None] * 50 and pipelines == 1
    assert list(reversed(redis.lrange(keys.queue("website_logs"), 0, -1))) == [b'{"n":%d}' % i for i in range(50)]
    assert redis.hget(keys.STATS, "accepted:website_logs") == b"50"


def test_each_push_in_a_pipeline_is_answered_on_its_own(redis_server: RedisServer, redis: Redis) -> None:
    ips = ["10.0.0.1"] * 4 + ["10.0.0.2"] * 2
    outcomes, _ = push_together(redis_server.url, 6, Limits(per_ip=3, per_site=0, max_queue=1000), ips)
    assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 3 + ["RateLimited"] + ["NoneType"] * 2
    assert isinstance(outcomes[3], RateLimited) and outcomes[3].scope == "client IP"
    assert [r for r in reversed(redis.lrange(keys.queue("website_logs"), 0, -1))] == [
        b'{"n":0}', b'{"n":1}', b'{"n":2}', b'{"n":4}', b'{"n":5}']


def test_a_redis_that_lost_its_scripts_loads_the_push_again(redis_server: RedisServer, redis: Redis) -> None:
    push_together(redis_server.url, 2, Limits(per_ip=0, per_site=0, max_queue=1000))
    redis.script_flush()  # as after a restart
    outcomes, pipelines = push_together(redis_server.url, 3, Limits(per_ip=0, per_site=0, max_queue=1000))
    assert outcomes == [None] * 3 and pipelines == 2 and redis.llen(keys.queue("website_logs")) == 5


def test_every_waiting_push_is_refused_when_redis_is_down(redis_server: RedisServer) -> None:
    url = redis_server.url
    redis_server.stop(kill=True)
    outcomes, _ = push_together(url, 5, Limits(per_ip=0, per_site=0, max_queue=1000))
    assert all(isinstance(o, QueueUnavailable) for o in outcomes)


@pytest.mark.parametrize("n", [1, 3])
def test_a_full_queue_refuses_the_pushes_that_would_overfill_it(redis_server: RedisServer, redis: Redis,
                                                                n: int) -> None:
    redis.lpush(keys.queue("website_logs"), *[b"{}"] * 10)
    outcomes, _ = push_together(redis_server.url, n, Limits(per_ip=0, per_site=0, max_queue=10))
    assert [type(o).__name__ for o in outcomes] == ["QueueFull"] * n
    assert redis.llen(keys.queue("website_logs")) == 10
