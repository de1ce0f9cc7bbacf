"""Pushing accepted events onto their streams' Redis lists, refusing when a list is too long.

The length check and the push are one Lua script, so a burst cannot slip past the limit, and the
collector answers 202 only after Redis has acknowledged the push.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from footfall import keys

PUSH_IF_ROOM = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
return redis.call('LPUSH', KEYS[1], unpack(ARGV, 2))
"""
CHUNK = 1000  # Lua's unpack() takes a few thousand values at most


class QueueFull(Exception):
    def __init__(self, stream: str) -> None:
        super().__init__(f"stream {stream} is over its queue limit")
        self.stream = stream


class QueueUnavailable(Exception):
    """Redis did not answer or refused the push."""


class EventQueue:
    def __init__(self, redis: Redis, max_queue: int) -> None:
        self.redis = redis
        self.max_queue = max_queue
        self._push = redis.register_script(PUSH_IF_ROOM)

    async def push(self, by_stream: dict[str, list[bytes]]) -> None:
        """Queue every event or raise; a stream that is full stops the rest (clients retry: ids dedupe)."""
        try:
            for stream, events in by_stream.items():
                for start in range(0, len(events), CHUNK):
                    chunk = events[start : start + CHUNK]
                    if await self._push(keys=[keys.queue(stream)], args=[self.max_queue, *chunk]) == -1:
                        raise QueueFull(stream)
        except RedisError as exc:
            raise QueueUnavailable(str(exc)) from exc
