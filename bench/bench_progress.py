"""Tutorial progress: folds per second into SQLite, and the read API's latency on a large store.

    python bench/bench_progress.py [--events 100000] [--learners 100000] [--reads 2000]

Folds: raw video events (as the drainer decodes them from the queue: times as canonical text) folded in
batches of 500 into per-learner documents, the way the drainer does after storing them. Reads: a store
holding `--learners` learners' progress (two tutorials each), a real collector (one uvicorn worker) and
one learner's GET at a time, each with its own signed token.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from pipeline import KEY, SECRET, Pipeline, machine

from footfall import parts, tokens
from footfall.codec import format_datetime
from footfall.progress import folds, progress_in
from footfall.stores.sqlite import SQLiteStore


def events(n: int, learners: int, rng: random.Random) -> list[dict[str, object]]:
    at = datetime(2026, 5, 4, tzinfo=UTC)
    out = []
    for i in range(n):
        segment = rng.randrange(120)  # a 10-minute video: 120 segments of 5 s
        out.append({"site": "bench", "user_id": f"learner-{rng.randrange(learners)}", "foss": "BASH",
                    "language_name": "English", "tutorial": f"t{rng.randrange(20)}", "type": "video_progress",
                    "timestamp": format_datetime(at + timedelta(seconds=i)), "position": segment * 5.0 + 1,
                    "minute": segment // 12, "segments": [segment], "duration": 600.0,
                    "page_view_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(5)
    pipeline = Pipeline()
    try:
        print(f"machine: {machine()}")
        store = SQLiteStore(str(pipeline.store_path))
        parts.init(store)
        batch = events(args.events, 5000, rng)  # as the drainer decodes them: times stay canonical text
        started = time.perf_counter()
        for i in range(0, len(batch), 500):
            progress_in(store).fold(folds(batch[i:i + 500]), threshold=0.8)
        took = time.perf_counter() - started
        print(f"folds: {len(batch):,} events in {took:.2f}s = {len(batch) / took:,.0f} events/s (batches of 500)")

        for start in range(0, args.learners, 2500):  # the large store: every learner has two tutorials
            population = [{**e, "user_id": f"learner-{start + j // 2}", "tutorial": f"t{j % 2}"}
                          for j, e in enumerate(events(5000, 1, rng))]
            progress_in(store).fold(folds(population), threshold=0.8)
        print(f"store: {store.count('tutorial_progress'):,} tutorial documents")
        store.close()

        url = pipeline.collector()
        latencies = []
        with httpx.Client(base_url=url) as client:
            for i in range(args.reads):
                learner = f"learner-{rng.randrange(args.learners)}"
                headers = {"Authorization": f"Bearer {tokens.issue(SECRET, learner)}"}
                t = time.perf_counter()
                response = client.get("/v1/progress", params={"key": KEY, "foss": "BASH", "language": "English"},
                                      headers=headers)
                latencies.append(time.perf_counter() - t)
                assert response.status_code == 200 and response.json()["tutorials"], response.text
                if i == 0:
                    latencies.clear()  # the first read opens the store
        q = statistics.quantiles(latencies, n=100)
        print(f"reads: {len(latencies)} one at a time, p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms")
    finally:
        pipeline.close()


if __name__ == "__main__":
    main()
