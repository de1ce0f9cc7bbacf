"""Time the Django middleware adds to a request, with the collector up, down and hanging.

    python bench/bench_middleware.py [--requests 20000]

The middleware wraps a view that answers at once, so what is timed is the middleware alone: building the
event (a logged-in user, view kwargs, a query string) and handing it to the sender, while the sender
thread posts to (or retries against) the collector in the background, as in production.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

from pipeline import SECRET, Pipeline, machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.urls import resolve  # noqa: E402

import footfall_django  # noqa: E402
from footfall_django.middleware import FootfallMiddleware  # noqa: E402

RESPONSE = HttpResponse("ok")


class Session:
    session_key = "k" * 32


def hanging_server() -> str:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1000)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in iter(int, 1)], daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}"


def measure(url: str, requests: int) -> tuple[list[float], dict[str, int]]:
    options = {**django.conf.settings.FOOTFALL, "COLLECTOR_URL": url, "SECRET": SECRET, "FLUSH_INTERVAL": 0.2,
               "BATCH_SIZE": 100, "TIMEOUT": 5.0}
    with override_settings(FOOTFALL=options):
        middleware = FootfallMiddleware(lambda request: RESPONSE)
        factory = RequestFactory(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
                                 HTTP_REFERER="https://search.example/", HTTP_COOKIE="footfall_seen=1")
        user = User(pk=42, username="ada")
        match = resolve("/watch/bash/intro/english/")
        times = []
        for _ in range(requests):
            request = factory.get("/watch/bash/intro/english/?q=loops&page=2")
            request.user, request.session, request.resolver_match = user, Session(), match
            started = time.perf_counter_ns()
            middleware(request)
            times.append((time.perf_counter_ns() - started) / 1000)
            if len(times) % 100 == 0:
                time.sleep(0.002)  # let the sender run, as between real requests
        return times, footfall_django.stats()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    pipeline = Pipeline()
    try:
        up = pipeline.collector()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            down = f"http://127.0.0.1:{s.getsockname()[1]}"
        print(f"machine: {machine()}, Django {django.get_version()}")
        print(f"{'collector':<10}{'p50 µs':>9}{'p99 µs':>9}{'max µs':>10}  sender")
        for name, url in (("up", up), ("down", down), ("hanging", hanging_server())):
            times, stats = measure(url, args.requests)
            q = statistics.quantiles(times, n=100)
            print(f"{name:<10}{q[49]:>9.1f}{q[98]:>9.1f}{max(times):>10.0f}  {stats}")
    finally:
        pipeline.close()


if __name__ == "__main__":
    main()
