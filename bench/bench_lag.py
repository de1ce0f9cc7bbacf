"""End-to-end lag at a steady 1,000 events/s: from the moment an event is sent to the moment it can
be read from the store.

    python bench/bench_lag.py [--seconds 20] [--rate 1000]

A real collector (one uvicorn worker), Redis (AOF on), one drainer (N=500, linger 500 ms) and SQLite.
Events go out as the tracker sends them, in batches of 20, each stamped with its send time; a reader
polls the store every 5 ms, so figures are up to 5 ms pessimistic.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import threading
import time
from datetime import UTC, datetime

import httpx
import orjson
from pipeline import KEY, ORIGIN, Pipeline, machine


async def send(url: str, rate: int, seconds: int, batch: int = 20) -> int:
    interval = batch / rate
    sent = 0
    async with httpx.AsyncClient(base_url=url, headers={"Origin": ORIGIN}, timeout=10,
                                 limits=httpx.Limits(max_connections=20)) as client:
        start = time.perf_counter()
        tasks = []
        for tick in range(int(seconds / interval)):
            delay = start + tick * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            events = [{"type": "page_ping", "url": "http://bench.test/", "timestamp": now} for _ in range(batch)]
            tasks.append(asyncio.create_task(client.post("/v1/events", content=orjson.dumps(
                {"key": KEY, "events": events}))))
            sent += batch
        for response in await asyncio.gather(*tasks):
            assert response.status_code == 202, response.text
    return sent


def read_lags(path: str, expected: list[int], lags: list[float], stop: threading.Event) -> None:
    db = None
    last = 0
    while not stop.is_set() or len(lags) < expected[0]:
        try:
            db = db or sqlite3.connect(path)
            rows = db.execute("SELECT rowid, json_extract(doc, '$.timestamp') FROM website_logs WHERE rowid > ?",
                              (last,)).fetchall()
        except sqlite3.OperationalError:
            rows = []
        now = time.time()
        for rowid, stamp in rows:
            lags.append(now - datetime.fromisoformat(stamp).timestamp())
            last = max(last, rowid)
        if stop.is_set() and expected[0] and len(lags) >= expected[0]:
            break
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    pipeline = Pipeline()
    try:
        url = pipeline.collector()
        pipeline.drainer()
        time.sleep(1)
        lags: list[float] = []
        expected = [0]
        stop = threading.Event()
        reader = threading.Thread(target=read_lags, args=(str(pipeline.store_path), expected, lags, stop))
        reader.start()
        expected[0] = asyncio.run(send(url, args.rate, args.seconds))
        stop.set()
        reader.join(60)
        lags.sort()
        p = statistics.quantiles(lags, n=100)
        print(f"machine: {machine()}")
        print(f"{len(lags)} events at {args.rate}/s for {args.seconds}s: end-to-end lag "
              f"p50 {p[49] * 1000:.0f} ms, p99 {p[98] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")
    finally:
        pipeline.close()


if __name__ == "__main__":
    main()
