"""Importing edX tracking logs into SQLite, next to the store's own raw insert rate of the same documents
(one executemany of ready JSON, no parsing, no checks) measured in the same run.

    python bench/bench_import.py [--lines 1000000] [--files 1]

It writes a gzipped log of a realistic mix (page requests, video play/pause/seek from the browser with
JSON-string payloads, server problem checks with answers, forum posts, enrolments; about 1.2 KB a line),
imports it with `footfall import-edx --json` as a separate process (so its peak memory is its own), then
inserts the very documents the import stored into a second store with executemany. With --files N the log
is split into N files imported by N processes at once (the way to use both cores).
"""

from __future__ import annotations

import argparse
import gzip
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from pipeline import machine

from footfall.stores.sqlite import SQLiteStore

COURSES = ["course-v1:FootfallX+BASH101+2026_T1", "course-v1:FootfallX+PY201+2026_T1", "FootfallX/C300/2014_Spring"]
AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
         "Safari/537.36 Edg/120.0.2210.91")


def line(n: int, rng: random.Random) -> bytes:
    course = rng.choice(COURSES)
    user = rng.randrange(20_000)
    at = f"2026-03-{1 + n % 28:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}123+00:00"
    base = {"username": f"learner{user}", "ip": f"81.2.{rng.randrange(256)}.{rng.randrange(256)}", "agent": AGENT,
            "host": "courses.example.org", "session": f"{rng.getrandbits(128):032x}", "time": at,
            "accept_language": "en-GB,en;q=0.9,hi;q=0.8",
            "referer": f"https://courses.example.org/courses/{course}/courseware/week{n % 9}/seq{n % 5}/?child=first",
            "context": {"user_id": user, "course_id": course, "org_id": "FootfallX", "enterprise_uuid": "",
                        "course_user_tags": {"xblock.partition_service.partition_50": str(user % 2),
                                             "experiment_cohort": f"cohort-{user % 4}-autumn"},
                        "asides": {}, "client_id": f"{rng.getrandbits(64):016x}.{n}",
                        "path": f"/courses/{course}/xblock/block-v1:x+type@video+block@{n % 97:032x}/handler/x"}}
    kind = rng.random()
    if kind < 0.35:  # a page request (an implicit event)
        base |= {"event_type": f"/courses/{course}/courseware/week{n % 9}/seq{n % 5}/", "event_source": "server",
                 "event": orjson.dumps({"GET": {"position": [str(n % 7)]}, "POST": {}}).decode(), "page": None}
    elif kind < 0.8:  # video, from the browser
        video = rng.choice(["play_video", "pause_video", "seek_video", "speed_change_video"])
        payload = {"id": f"block-v1:FootfallX+BASH101+2026_T1+type@video+block@{n % 97:032x}",
                   "currentTime": round(rng.uniform(0, 600), 3), "code": "html5", "duration": 600.0}
        if video == "seek_video":
            payload |= {"old_time": payload["currentTime"], "new_time": round(rng.uniform(0, 600), 3),
                        "type": "onSlideSeek"}
        base |= {"event_type": video, "name": video, "event_source": "browser", "event": orjson.dumps(payload).decode(),
                 "page": f"https://courses.example.org/courses/{course}/courseware/week{n % 9}/seq{n % 5}/1"}
    elif kind < 0.95:  # a problem check, on the server
        base |= {"event_type": "problem_check", "name": "problem_check", "event_source": "server", "page": "x_module",
                 "event": {"problem_id": f"block-v1:FootfallX+BASH101+2026_T1+type@problem+block@{n % 53:032x}",
                           "attempts": 1 + n % 3, "success": "correct" if n % 2 else "incorrect",
                           "grade": n % 2, "max_grade": 1, "answers": {f"q{n % 53}_2_1": "choice_1"},
                           "state": {"seed": 1, "done": True}}}
    else:  # a forum post or an enrolment
        event_type = "edx.forum.thread.created" if n % 2 else "edx.course.enrollment.activated"
        base |= {"event_type": event_type, "name": event_type, "event_source": "server", "page": None,
                 "event": {"title": "Loops?", "body": "How do I write a for loop in bash " * 3, "id": f"{n:024x}",
                           "user_course_roles": [], "user_forums_roles": ["Student"]}}
    return orjson.dumps(base)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(3)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        per = args.lines // args.files
        paths = [base / f"FootfallX-edx-events-2026-03-{i + 1:02d}.log.gz" for i in range(args.files)]
        raw_bytes = 0
        for i, path in enumerate(paths):
            with gzip.open(path, "wb", compresslevel=6) as out:
                for start in range(i * per, (i + 1) * per, 10_000):
                    chunk = b"".join(line(n, rng) + b"\n" for n in range(start, min(start + 10_000, (i + 1) * per)))
                    raw_bytes += len(chunk)
                    out.write(chunk)
        print(f"log: {args.lines:,} lines in {args.files} file(s), {raw_bytes / args.lines:,.0f} bytes a line, "
              f"{sum(p.stat().st_size for p in paths) / 1e6:,.0f} MB gzipped")
        store = base / "import.db"
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "FOOTFALL_STORE_URL": f"sqlite:///{store}"}
        subprocess.run([sys.executable, "-m", "footfall.cli", "init-db"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        processes = [subprocess.Popen([sys.executable, "-m", "footfall.cli", "import-edx", "--json", str(p)],
                                      env=env, stdout=subprocess.PIPE) for p in paths]
        outputs = [p.communicate()[0] for p in processes]
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stored = sum(orjson.loads(o)["stored"] for o in outputs)
        rate = args.lines / took
        print(f"import: {args.lines:,} lines in {took:.1f} s = {rate:,.0f} lines/s ({stored:,} stored), "
              f"peak memory of an import process {peak:,.0f} MB")

        # The limit: the same documents, ready as JSON, into the store's own table (its indexes, its pragmas),
        # with executemany and nothing else: no reading, parsing, checking or encoding.
        docs = [(i, d) for i, d in sqlite3.connect(store).execute("SELECT _id, doc FROM edx_events")]
        empty = SQLiteStore(str(base / "raw.db"))
        empty.init()
        raw = empty.db
        started = time.perf_counter()
        for start in range(0, len(docs), 1000):
            raw.execute("BEGIN")
            raw.executemany("INSERT INTO edx_events VALUES (?, ?)", docs[start:start + 1000])
            raw.execute("COMMIT")
        raw_rate = len(docs) / (time.perf_counter() - started)
        empty.close()
        print(f"store's raw insert (executemany of the same ready JSON, batches of 1,000): {raw_rate:,.0f} docs/s")
        print(f"ratio import / raw: {rate / raw_rate:.2f}; a 10,000,000-line course at this rate: "
              f"{10_000_000 / rate / 60:,.0f} min")


if __name__ == "__main__":
    main()
