"""Pushing a request's accepted events onto their streams' Redis lists, in one atomic Lua script.

The script counts the request against its client IP's and its site's rate windows, checks that no
stream is over its queue limit, and only then pushes every event: all or nothing, and the collector
answers 202 only after Redis has acknowledged it. Requests pushing at the same moment share one round
trip (a pipeline of their scripts). (The script's keys span slots: in Redis Cluster,
give each stream and its limits one Redis, as the README's scaling section says.)
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from footfall import keys
from footfall.queue import PUSH, WINDOW_S


@dataclass(frozen=True)
class Limits:
    per_ip: int  # requests a minute; 0: none
    per_site: int  # a site's browser requests
    max_queue: int
    per_server: int = 0  # a site's own server events: a budget of their own, out of reach of its public key


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


Waiting = tuple[list[str], list[int | str | bytes], "asyncio.Future[Any]"]  # a push's keys, arguments, answer


class EventQueue:
    """Pushes that wait at the same moment go to Redis together, as one pipeline.

    redis-py spends ~100 µs of CPU on each command it sends alone, more than the collector spends
    on an event; requests that reach the push in the same turn of the event loop share one round
    trip instead. Each push is still its own script run: all or nothing, answered on its own.
    """

    def __init__(self, redis: Redis, limits: Limits) -> None:
        self.redis = redis
        self.limits = limits
        self._sha = hashlib.sha1(PUSH.encode()).hexdigest()
        self._waiting: list[Waiting] = []
        self._sending: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    async def push(self, by_stream: dict[str, list[bytes]], ip: str | None, site: str,
                   source: str = "browser") -> None:
        """Queue every event or raise QueueFull, RateLimited or QueueUnavailable (then nothing is queued)."""
        window = int(time.time()) // WINDOW_S
        streams = list(by_stream)
        scope, per_site = ("site", self.limits.per_site) if source == "browser" else ("server", self.limits.per_server)
        script_keys = [keys.rate("ip", ip or "unknown", window), keys.rate(scope, site, window), keys.STATS,
                       *(keys.queue(s) for s in streams)]
        args: list[int | str | bytes] = [self.limits.per_ip, per_site, WINDOW_S + 1, self.limits.max_queue]
        for s in streams:
            events = b"\n".join(by_stream[s])
            if events.count(b"\n") != len(by_stream[s]) - 1:  # never: encode() writes no raw newline
                raise ValueError("an encoded event holds a newline")
            args += [s, len(by_stream[s]), events]
        done = asyncio.get_running_loop().create_future()
        if not self._waiting:  # the first to wait in this turn sends everyone's, once the turn is over
            asyncio.get_running_loop().call_soon(self._send_waiting)
        self._waiting.append((script_keys, args, done))
        try:
            outcome, detail = await done
        except RedisError as exc:
            raise QueueUnavailable(str(exc)) from exc
        if outcome == 0:
            raise QueueFull(streams[int(detail) - 1])
        if outcome < 0:
            raise RateLimited("client IP" if outcome == -1 else "site", int(detail))

    def _send_waiting(self) -> None:
        task = asyncio.ensure_future(self._send(self._waiting))
        self._waiting = []
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, waiting: list[Waiting]) -> None:
        try:
            results = await self._run(waiting)
            if any(isinstance(r, NoScriptError) for r in results):  # Redis restarted: load it, run those again
                await self.redis.script_load(PUSH)
                again = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
                for i, result in zip(again, await self._run([waiting[i] for i in again]), strict=True):
                    results[i] = result
        except RedisError as exc:
            results = [exc] * len(waiting)
        except BaseException:  # never leave a request waiting (a bug, or the server shutting down)
            for _, _, done in waiting:
                if not done.done():
                    done.set_exception(QueueUnavailable("the push was interrupted"))
            raise
        for (_, _, done), result in zip(waiting, results, strict=True):
            if done.done():  # the request went away; its events were pushed or not, as for any client
                continue
            if isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)

    async def _run(self, waiting: list[Waiting]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for script_keys, args, _ in waiting:
                pipe.evalsha(self._sha, len(script_keys), *script_keys, *args)
            return list(await pipe.execute(raise_on_error=False))
