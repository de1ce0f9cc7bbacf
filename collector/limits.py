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


async def spend(redis: Redis, scope: str, who: str) -> tuple[int, int]:
    """Count one request in this minute's window: how many so far, and the seconds until the next window."""
    window, left = _window()
    key = keys.rate(scope, who, window)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_S + 1)
        count, _ = await pipe.execute()
    return int(count), left
