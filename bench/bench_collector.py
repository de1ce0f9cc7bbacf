"""Collector throughput and latency, and the same against a bare 202 endpoint on the same server.

    python bench/bench_collector.py [--seconds 10]

Needs wrk (closed loop: how fast can it go) and hey (fixed rate: latency at 1,000 requests/s).
One collector worker; the load generator runs on the same 2-core machine. No drainer runs, so a thread
trims the queue to its newest 1,000 events every 50 ms, as a drainer keeps it short in production:
left to grow (250 MB in ten seconds of batches), it made Redis rewrite its AOF four times a run, each
a fork copying the whole queue, which is the benchmark's doing, not the collector's.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import orjson
from pipeline import KEY, ORIGIN, Pipeline, machine
from redis import Redis

from footfall import keys
from footfall.schemas import STREAMS

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def body(events: int) -> bytes:
    event = {"type": "page_view", "url": "http://bench.test/watch/bash/intro/en/", "title": "Intro to BASH",
             "referrer": "http://bench.test/", "screen": "1920x1080", "language": "en", "tz_offset": 60,
             "first_time_visit": False}
    return orjson.dumps({"key": KEY, "events": [event] * events})


def seconds(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def wrk(url: str, payload: bytes, duration: int) -> dict[str, float]:
    script = Path(tempfile.mktemp(suffix=".lua"))
    script.write_text(f'wrk.method = "POST"\nwrk.body = {orjson.dumps(payload.decode()).decode()}\n'
                      f'wrk.headers["Content-Type"] = "text/plain"\nwrk.headers["Origin"] = "{ORIGIN}"\n'
                      f'wrk.headers["User-Agent"] = "{AGENT}"\n')
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{duration}s", "--latency", "-s", str(script),
                          f"{url}/v1/events"], capture_output=True, text=True, check=True).stdout
    assert "Non-2xx" not in out, out
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
            "p99": seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))}  # type: ignore[union-attr]


def hey(url: str, payload: bytes, duration: int, rate: int = 1000) -> dict[str, float]:
    workers = 10  # hey paces each worker; they fire in step, so this is a burst of 10 every 10 ms
    out = subprocess.run(["hey", "-z", f"{duration}s", "-c", str(workers), "-q", str(rate // workers), "-m", "POST",
                          "-T", "text/plain", "-H", f"Origin: {ORIGIN}", "-H", f"User-Agent: {AGENT}",
                          "-d", payload.decode(), f"{url}/v1/events"], capture_output=True, text=True,
                         check=True).stdout
    codes = re.findall(r"\[(\d+)\]\s+\d+ responses", out)
    assert codes == ["202"], out
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)),  # type: ignore[union-attr]
            "p99": float(re.search(r"99%+ in ([\d.]+) secs", out).group(1))}  # type: ignore[union-attr]


def keep_short(url: str, stop: threading.Event) -> None:
    redis = Redis.from_url(url)
    while not stop.wait(0.05):
        for stream in STREAMS:
            redis.ltrim(keys.queue(stream), 0, 999)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    pipeline = Pipeline()
    stop = threading.Event()
    try:
        collector, bare = pipeline.collector(), pipeline.bare()
        redis = Redis.from_url(pipeline.redis.url)
        threading.Thread(target=keep_short, args=(pipeline.redis.url, stop), daemon=True).start()
        print(f"machine: {machine()}")
        print(f"{'scenario':<34}{'target':>10}{'req/s':>10}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
        for name, events, runner in (("single event, as fast as it goes", 1, wrk),
                                     ("batch of 20, as fast as it goes", 20, wrk),
                                     ("single event at 1,000 req/s", 1, hey)):
            results = {}
            for target, url in (("collector", collector), ("bare 202", bare)):
                redis.flushall()
                results[target] = r = runner(url, body(events), args.seconds)
                print(f"{name:<34}{target:>10}{r['rps']:>10.0f}{r['rps'] * events:>11.0f}"
                      f"{r['p50'] * 1000:>9.2f}{r['p99'] * 1000:>9.2f}")
            ratio = results["collector"]["rps"] / results["bare 202"]["rps"]
            print(f"{'':<34}{'ratio':>10}{ratio:>10.2f}")
    finally:
        stop.set()
        pipeline.close()


if __name__ == "__main__":
    main()
