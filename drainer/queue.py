"""The reliable-queue side of a stream: take a batch into our own processing list, ack it when stored.

An event is always in exactly one Redis list (the stream's queue or one drainer's processing list)
until the store has it; moves between the two are atomic (BLMOVE, or a Lua script for many at once).
A processing list holds the batches its drainer is writing, oldest on the right; acking a batch removes
exactly its events (by identity, never a count: the list may have been re-queued under a paused drainer).
"""

from __future__ import annotations

from redis import Redis

from footfall import keys
from footfall.queue import ACK, MAX_TAKE, REQUEUE, TAKE, identity


class StreamQueue:
    """One stream's queue as one drainer sees it."""

    def __init__(self, redis: Redis, stream: str, drainer_id: str) -> None:
        self.redis = redis
        self.stream = stream
        self.queue = keys.queue(stream)
        self.processing = keys.processing(stream, drainer_id)
        self._take = redis.register_script(TAKE)
        self._requeue = redis.register_script(REQUEUE)
        self._ack = redis.register_script(ACK)

    def wait_one(self, timeout_s: float) -> bytes | None:
        """Block until an event arrives (moving it into the processing list) or the timeout passes."""
        return self.redis.blmove(self.queue, self.processing, max(timeout_s, 0.01), "RIGHT", "LEFT")

    def take(self, n: int) -> list[bytes]:
        """Move up to n waiting events into the processing list, without waiting."""
        taken: list[bytes] = []
        while n > len(taken):
            chunk = list(self._take(keys=[self.queue, self.processing], args=[min(n - len(taken), MAX_TAKE)]))
            if not chunk:
                break
            taken += chunk
        return taken

    def in_flight(self) -> list[bytes]:
        """The processing list, oldest first: what a previous run of this drainer left unacked."""
        return list(reversed(self.redis.lrange(self.processing, 0, -1)))

    def ack(self, batch: list[bytes]) -> int:
        """These events (oldest first) are stored: remove them, and nothing else, from the processing list;
        returns how many were still there."""
        return int(self._ack(keys=[self.processing], args=[identity(raw) for raw in batch])) if batch else 0

    def requeue_orphan(self, drainer_id: str) -> int:
        """Give a dead drainer's batch back to the queue, to be taken next."""
        return int(self._requeue(keys=[self.queue, keys.processing(self.stream, drainer_id)]))
