"""The background sender: requests only append to a bounded in-process queue; one thread per process
posts batches to the collector over one keep-alive connection.

Never on the request thread, never unbounded: when the queue is full the oldest event is dropped and
counted. Transient failures (network, timeouts, 429, 5xx) are retried with backoff; refusals (4xx)
are dropped and counted. It survives forking servers (a new thread in each child), flushes at exit
with a short timeout, and logs trouble at most once a minute, never the secret.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any

import httpx
import orjson

from footfall_django.conf import Config

log = logging.getLogger("footfall.django")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_MAX_S = 30.0


class Throttled:
    """At most one log line a minute per kind of trouble."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.last: dict[str, float] = {}

    def warning(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last.get(kind, -self.every_s) >= self.every_s:
            self.last[kind] = now
            log.warning(message, *args)


class Sender:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = f"{config.collector_url}/v1/server-events"
        self.sent = 0
        self.dropped = 0
        self.failed_batches = 0
        self.throttled = Throttled()
        self._fresh_process()
        os.register_at_fork(after_in_child=self._fresh_process)
        atexit.register(self.close)

    def _fresh_process(self) -> None:
        """Locks and threads do not survive fork(); neither do the parent's queued events."""
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight = 0  # events taken from the queue and not yet sent or dropped
        self._pid = os.getpid()

    # --- the request thread's side: append and return -----------------------------------------------

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            if len(self._queue) >= self.config.max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            full = len(self._queue) >= self.config.batch_size
        if full:
            self._wake.set()

    def _start(self) -> None:
        if self._pid != os.getpid():
            self._fresh_process()
        self._thread = threading.Thread(target=self._run, name="footfall-sender", daemon=True)
        self._thread.start()

    # --- the sender thread ----------------------------------------------------------------------------

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            n = min(len(self._queue), self.config.batch_size)
            self._in_flight = n
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.config.secret}", "Content-Type": "application/json"}
        timeout = httpx.Timeout(self.config.timeout_s, connect=min(self.config.timeout_s, 2.0))
        with httpx.Client(headers=headers, timeout=timeout) as client:
            batch: list[dict[str, Any]] = []
            backoff = 0.0
            while True:
                if not batch:
                    if not self._closing.is_set() and len(self._queue) < self.config.batch_size:
                        self._wake.wait(self.config.flush_interval_s)
                        self._wake.clear()
                    batch = self._take()
                    if not batch:
                        if self._closing.is_set():
                            return
                        continue
                if self._post(client, batch):
                    batch, backoff, self._in_flight = [], 0.0, 0
                elif self._closing.is_set():  # exiting and the collector is not answering: give up
                    with self._lock:
                        self.dropped += len(batch) + len(self._queue)
                        self._queue.clear()
                    self._in_flight = 0
                    return
                else:
                    backoff = min(max(backoff * 2, 0.5), BACKOFF_MAX_S)
                    self._closing.wait(backoff)

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> bool:
        """True when the batch is done with (sent, or refused for good); False to retry it."""
        try:
            response = client.post(self.url, content=orjson.dumps({"events": batch}))
        except httpx.HTTPError as exc:
            self.throttled.warning("network", "footfall: collector unreachable (%s); will retry",
                                   type(exc).__name__)
            return False
        if response.status_code in RETRY_STATUSES:
            self.throttled.warning("busy", "footfall: collector answered %d; will retry", response.status_code)
            return False
        if response.status_code == 202:
            rejected = response.json().get("rejected", [])
        elif response.status_code == 400 and "rejected" in response.text:
            rejected = response.json()["rejected"]
        else:
            self.failed_batches += 1
            self.dropped += len(batch)
            self.throttled.warning("refused", "footfall: collector refused a batch with %d; dropped %d events",
                                   response.status_code, len(batch))
            return True
        self.sent += len(batch) - len(rejected)
        if rejected:
            self.dropped += len(rejected)
            first = rejected[0]
            self.throttled.warning("invalid", "footfall: collector rejected %d events (first: %s %s)",
                                   len(rejected), first.get("field"), first.get("error"))
        return True

    # --- lifecycle ------------------------------------------------------------------------------------

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued event has been dealt with (tests, management commands)."""
        deadline = time.monotonic() + (self.config.exit_timeout_s if timeout_s is None else timeout_s)
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._queue and not self._in_flight:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        """At exit: send what is queued, for a short while at most."""
        if self._thread is None or self._pid != os.getpid():
            return
        self._closing.set()
        self._wake.set()
        self._thread.join(self.config.exit_timeout_s)

    def stats(self) -> dict[str, int]:
        return {"queued": len(self._queue), "in_flight": self._in_flight, "sent": self.sent,
                "dropped": self.dropped, "failed_batches": self.failed_batches}


_current: Sender | None = None
_current_lock = threading.Lock()


def sender_for(config: Config) -> Sender:
    """One sender per process (a new one if the configuration changed, as in tests)."""
    global _current
    with _current_lock:
        if _current is None or _current.config != config:
            if _current is not None:
                _current.close()
            _current = Sender(config)
        return _current


def current_stats() -> dict[str, int]:
    return _current.stats() if _current else {"queued": 0, "in_flight": 0, "sent": 0, "dropped": 0,
                                              "failed_batches": 0}
