"""Real servers for the tests: redis-server (random port, temp dir, AOF on), collector and drainer processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from footfall import parts
from footfall.cli.redis_server import RedisServer, free_port
from footfall.settings import Settings
from footfall.sites import Sites
from footfall.stores import Store, open_store

pytest_plugins = ["browser"]  # tests/browser.py: pages, a restartable collector, Chromium

ORIGIN = "http://site.test"
KEY = "pk_test"
SECRET = "sk_test_0123456789abcdef0123456789abcdef"
OTHER_KEY = "pk_other"
OTHER_SECRET = "sk_other_0123456789abcdef0123456789abcdef"
SITES_TOML = f'''
[[site]]
id = "test"
public_key = "{KEY}"
secret = "{SECRET}"
origins = ["{ORIGIN}"]
event_names = [["^/$", "event.home.view"], ["^/watch/[^/]+/[^/]+/[^/]+/$", "event.video.watch"]]

[[site]]
id = "other"
public_key = "{OTHER_KEY}"
secret = "{OTHER_SECRET}"
origins = ["http://other.test"]
'''


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop(kill=True)


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def sites_file(tmp_path: Path) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(SITES_TOML)
    return path


@pytest.fixture
def sites(sites_file: Path) -> Sites:
    return Sites.load(sites_file)


@pytest.fixture
def settings(redis_server: RedisServer, sites_file: Path, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_server.url, store_url=f"sqlite:///{tmp_path / 'footfall.db'}",
                    sites=sites_file, linger_ms=50, batch_size=500, heartbeat_s=0.5)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    db = open_store(settings.store_url)
    parts.init(db)
    yield db
    db.close()


def env_of(settings: Settings, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
    env.update({
        "FOOTFALL_REDIS_URL": settings.redis_url,
        "FOOTFALL_STORE_URL": settings.store_url,
        "FOOTFALL_SITES": str(settings.sites),
        "FOOTFALL_LINGER_MS": str(settings.linger_ms),
        "FOOTFALL_BATCH_SIZE": str(settings.batch_size),
        "FOOTFALL_MAX_QUEUE": str(settings.max_queue),
        "FOOTFALL_HEARTBEAT_S": str(settings.heartbeat_s),
        "FOOTFALL_BACKOFF_MAX_S": "1",
    })
    env.update({f"FOOTFALL_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Process:
    """A footfall subprocess, its output kept in a file for post-mortems."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen([sys.executable, "-m", "footfall.cli", *args], env=env,
                                      stdout=self.handle, stderr=subprocess.STDOUT)

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.handle.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str], name: str) -> Process:
        process = Process(args, env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def free_port_pair() -> int:
    """A free port whose next port is free too (the demo serves its page on one, its collector on the next)."""
    import socket

    while True:
        port = free_port()
        try:
            with socket.create_server(("127.0.0.1", port + 1)):
                return port
        except OSError:
            continue


def answers(url: str) -> bool:
    """Whether a URL answers 200 now (servers starting up do not, yet)."""
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def collector_url(settings: Settings, spawn: Callable[..., Process]) -> str:
    """A real uvicorn collector process on a free port."""
    port = free_port()
    process = spawn(["collector", "--port", str(port)], env_of(settings), "collector")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.popen.poll() is None, process.output()
        return answers(f"{url}/healthz")

    wait_until(ready, what="collector to start")
    return url


@pytest.fixture
def start_drainer(settings: Settings, spawn: Callable[..., Process]) -> Callable[..., Process]:
    def start(drainer_id: str = "d1", *args: str, **extra: Any) -> Process:
        return spawn(["drainer", "--id", drainer_id, *args], env_of(settings, **extra), f"drainer-{drainer_id}")

    return start


def browser_batch(events: list[dict[str, Any]], key: str = KEY) -> dict[str, Any]:
    return {"key": key, "events": events}


def page_view(**fields: Any) -> dict[str, Any]:
    return {"type": "page_view", "url": "http://site.test/", "title": "Home", **fields}


BROWSER_HEADERS = {"Origin": ORIGIN, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}
SERVER_HEADERS = {"Authorization": f"Bearer {SECRET}"}
