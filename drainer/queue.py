"""The reliable-queue side of a stream: take a batch into our own processing list, ack it when stored.

An event is always in exactly one Redis list (the stream's queue or one drainer's processing list)
until the store has it; moves between the two are atomic (BLMOVE, or a Lua script for many at once).
A processing list therefore holds exactly the batch its drainer is writing, and acking is one DEL.
"""

from __future__ import annotations

from redis import Redis

from footfall import keys

TAKE = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[i] = v
end
return out
"""
# Put a processing list back at the consuming end of its queue, oldest event last out-first in.
REQUEUE = """
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do n = n + 1 end
return n
"""


class StreamQueue:
    """One stream's queue as one drainer sees it."""

    def __init__(self, redis: Redis, stream: str, drainer_id: str) -> None:
        self.redis = redis
        self.stream = stream
        self.queue = keys.queue(stream)
        self.processing = keys.processing(stream, drainer_id)
        self._take = redis.register_script(TAKE)
        self._requeue = redis.register_script(REQUEUE)

    def wait_one(self, timeout_s: float) -> bytes | None:
        """Block until an event arrives (moving it into the processing list) or the timeout passes."""
        return self.redis.blmove(self.queue, self.processing, max(timeout_s, 0.01), "RIGHT", "LEFT")

    def take(self, n: int) -> list[bytes]:
        """Move up to n waiting events into the processing list, without waiting."""
        return list(self._take(keys=[self.queue, self.processing], args=[n])) if n > 0 else []

    def in_flight(self) -> list[bytes]:
        """The processing list, oldest first: what a previous run of this drainer left unacked."""
        return list(reversed(self.redis.lrange(self.processing, 0, -1)))

    def ack(self) -> None:
        self.redis.delete(self.processing)

    def requeue_orphan(self, drainer_id: str) -> int:
        """Give a dead drainer's batch back to the queue, to be taken next."""
        return int(self._requeue(keys=[self.queue, keys.processing(self.stream, drainer_id)]))
