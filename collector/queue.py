"""Pushing a request's accepted events onto their streams' Redis lists, in one atomic Lua script.

The script counts the request against its client IP's and its site's rate windows, checks that no
stream is over its queue limit, and only then pushes every event: all or nothing, one round trip, and
the collector answers 202 only after Redis has acknowledged it. (Its keys span slots: in Redis Cluster,
give each stream and its limits one Redis, as the README's scaling section says.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from footfall import keys

PUSH = """
-- KEYS: ip window, site window, stats hash, then one queue per stream
-- ARGV: ip limit, site limit, window seconds, max queue, then per stream: its name, its event count and
-- its events joined by newlines (one argument, not one each: packing arguments is the client's cost)
local window, max_queue = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, 2 do
  local limit = tonumber(ARGV[i])
  if limit > 0 then
    local n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('EXPIRE', KEYS[i], window) end
    if n > limit then return {-i, redis.call('TTL', KEYS[i])} end
  end
end
local streams = #KEYS - 3
for q = 1, streams do
  if redis.call('LLEN', KEYS[3 + q]) >= max_queue then return {0, q} end
end
for q = 1, streams do
  local name, n, events = ARGV[2 + 3 * q], tonumber(ARGV[3 + 3 * q]), ARGV[4 + 3 * q]
  local items, start = {}, 1
  for _ = 1, n do
    local stop = string.find(events, '\\n', start, true) or (#events + 1)
    items[#items + 1] = string.sub(events, start, stop - 1)
    start = stop + 1
    if #items == 1000 then redis.call('LPUSH', KEYS[3 + q], unpack(items)); items = {} end
  end
  if #items > 0 then redis.call('LPUSH', KEYS[3 + q], unpack(items)) end
  redis.call('HINCRBY', KEYS[3], 'accepted:' .. name, n)
end
return {1, 0}
"""
WINDOW_S = 60


@dataclass(frozen=True)
class Limits:
    per_ip: int  # requests a minute; 0: none
    per_site: int
    max_queue: int


class QueueFull(Exception):
    def __init__(self, stream: str) -> None:
        super().__init__(f"stream {stream} is over its queue limit")
        self.stream = stream


class RateLimited(Exception):
    def __init__(self, scope: str, retry_after_s: int) -> None:
        super().__init__(f"too many requests from this {scope}")
        self.scope = scope
        self.retry_after_s = max(1, retry_after_s)


class QueueUnavailable(Exception):
    """Redis did not answer or refused the push."""


class EventQueue:
    def __init__(self, redis: Redis, limits: Limits) -> None:
        self.redis = redis
        self.limits = limits
        self._push = redis.register_script(PUSH)

    async def push(self, by_stream: dict[str, list[bytes]], ip: str | None, site: str) -> None:
        """Queue every event or raise QueueFull, RateLimited or QueueUnavailable (then nothing is queued)."""
        window = int(time.time()) // WINDOW_S
        streams = list(by_stream)
        script_keys = [keys.rate("ip", ip or "unknown", window), keys.rate("site", site, window), keys.STATS,
                       *(keys.queue(s) for s in streams)]
        args: list[int | str | bytes] = [self.limits.per_ip, self.limits.per_site, WINDOW_S + 1,
                                         self.limits.max_queue]
        for s in streams:
            events = b"\n".join(by_stream[s])
            if events.count(b"\n") != len(by_stream[s]) - 1:  # never: encode() writes no raw newline
                raise ValueError("an encoded event holds a newline")
            args += [s, len(by_stream[s]), events]
        try:
            outcome, detail = await self._push(keys=script_keys, args=args)
        except RedisError as exc:
            raise QueueUnavailable(str(exc)) from exc
        if outcome == 0:
            raise QueueFull(streams[int(detail) - 1])
        if outcome < 0:
            raise RateLimited("client IP" if outcome == -1 else "site", int(detail))
