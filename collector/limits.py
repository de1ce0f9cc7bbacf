"""Rate windows beside the push's own (which counts per client IP and per site inside its script): a
learner's calls to the progress API, and failed authentications per client address."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from footfall import keys
from footfall.queue import WINDOW_S


def _window() -> tuple[int, int]:
    """This minute's window, and the seconds until the next one."""
    now = int(time.time())
    return now // WINDOW_S, WINDOW_S - now % WINDOW_S


async def spend(redis: Redis, scope: str, who: str, limit: int) -> int:
    """Count one request; the seconds to wait if that was over the limit, else 0 (0: no limit)."""
    if limit <= 0:
        return 0
    window, left = _window()
    key = keys.rate(scope, who, window)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_S + 1)
        count, _ = await pipe.execute()
    return left if int(count) > limit else 0


async def exhausted(redis: Redis, scope: str, who: str, limit: int) -> int:
    """Whether the window is used up already, without counting; the seconds to wait, else 0."""
    if limit <= 0:
        return 0
    window, left = _window()
    count = await redis.get(keys.rate(scope, who, window))
    return left if count is not None and int(count) >= limit else 0
