"""Drainer throughput into SQLite at batch sizes N = 100, 500, 2000.

    python bench/bench_drainer.py [--events 100000]

Events are built by the collector's own validation and enrichment, queued in a real Redis (AOF on),
then drained by one drainer in burst mode (`--until-empty`) into a fresh SQLite database per N.
Their ids are UUIDv7, as the tracker, the Django shim and the collector make them; the last line
drains UUIDv4 ids (what another client might send), which land at random places in the id index.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pipeline import KEY, Pipeline, machine, write_sites
from redis import Redis

from footfall import keys
from footfall.collector.app import Collector
from footfall.drainer.worker import Drainer
from footfall.ids import uuid7
from footfall.settings import Settings
from footfall.sites import Sites

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def queued_events(settings: Settings, n: int, make_id: Callable[[], str] = uuid7) -> list[bytes]:
    """Realistic queued documents: what the collector pushes for browser page views."""
    sites = Sites.load(settings.sites)  # type: ignore[arg-type]
    collector = Collector(settings, sites)
    site = sites.by_key(KEY)
    assert site is not None
    out: list[bytes] = []
    rng = random.Random(7)
    for i in range(n):
        event = {"event_id": make_id(), "type": "page_view", "url": f"http://bench.test/watch/{i % 50}/",
                 "title": "A tutorial", "referrer": "http://bench.test/", "screen": "1366x768",
                 "language": "en", "tz_offset": 330, "first_time_visit": i % 7 == 0}
        context = {"ip": f"81.2.{rng.randrange(256)}.{rng.randrange(256)}", "user_agent": rng.choice(AGENTS),
                   "user": None}
        batch = collector.build(site, "browser", [event], context)
        out.extend(batch.by_stream["website_logs"])
    return out


def drain(raws: list[bytes], size: int) -> float:
    """Documents per second, draining what is queued into a fresh store."""
    pipeline = Pipeline()
    try:
        settings = Settings(redis_url=pipeline.redis.url, store_url=pipeline.env["FOOTFALL_STORE_URL"],
                            sites=pipeline.env["FOOTFALL_SITES"], batch_size=size, drainer_id="bench",
                            log_level="WARNING")
        redis = Redis.from_url(settings.redis_url)
        for start in range(0, len(raws), 5000):
            redis.lpush(keys.queue("website_logs"), *raws[start:start + 5000])
        started = time.perf_counter()
        Drainer(settings).run(until_empty=True, streams=["website_logs"])
        elapsed = time.perf_counter() - started
        stored = int(redis.hget(keys.STATS, "drained:website_logs") or 0)
        assert stored == len(raws), stored
        return len(raws) / elapsed
    finally:
        pipeline.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{'N':>6}{'ids':>6}{'events':>10}{'documents/s':>14}")
    settings = Settings(sites=str(write_sites(Path(tempfile.mkdtemp()) / "sites.toml")), log_level="WARNING")
    for name, make_id, sizes in (("v7", uuid7, (100, 500, 2000)), ("v4", lambda: str(uuid.uuid4()), (500,))):
        raws = queued_events(settings, args.events, make_id)
        for size in sizes:
            print(f"{size:>6}{name:>6}{len(raws):>10}{drain(raws, size):>14,.0f}")


if __name__ == "__main__":
    main()
