"""Browser fixtures: a page origin with its own test pages, a restartable collector, and Debian's Chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Process, answers, env_of, wait_until
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from footfall.cli.redis_server import free_port
from footfall.settings import Settings

VIDEO = Path(__file__).resolve().parent / "fixtures" / "tutorial.webm"  # 150 s, 8 KB, made with ffmpeg
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# --- fixtures: a page origin, a sites file that allows it, the collector, the drainer, the browser --------

@pytest.fixture
def page_port() -> int:
    return free_port()


class Collector:
    """A collector process that the test can stop and start again on the same port."""

    def __init__(self, settings: Settings, spawn: Callable[..., Process]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings, self.spawn = settings, spawn
        self.process: Process | None = None

    def start(self) -> None:
        self.process = self.spawn(["collector", "--port", str(self.port)], env_of(self.settings), "collector")

        wait_until(lambda: answers(f"{self.url}/healthz"), what="the collector to start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.stop()


@pytest.fixture
def collector(settings: Settings, spawn: Callable[..., Process], start_drainer: Callable[..., Process]) -> Collector:
    start_drainer("d1")
    running = Collector(settings, spawn)
    running.start()
    return running


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with byte ranges, as real sites serve video (without them a video cannot seek)."""

    def send_head(self) -> Any:
        wanted = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not wanted.startswith("bytes=") or not path.is_file():
            return super().send_head()
        data = path.read_bytes()
        first, _, last = wanted[6:].partition("-")
        start, end = int(first or 0), min(int(last) if last else len(data) - 1, len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(data[start:end + 1])

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Pages:
    """Test pages written to a folder and served from their own origin."""

    def __init__(self, folder: Path, port: int, collector_url: str) -> None:
        self.folder, self.port, self.collector_url = folder, port, collector_url
        shutil.copy(VIDEO, folder / "tutorial.webm")
        handler = partial(RangeHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def make(self, name: str, body: str = "", attrs: str = "", title: str = "A tutorial") -> str:
        (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_text(
            f"<!doctype html><html><head><title>{title}</title>"
            f'<script async src="{self.collector_url}/footfall.js" data-key="pk_browser" data-delay="200" {attrs}>'
            f"</script></head><body>{body}</body></html>")
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture
def pages(tmp_path: Path, page_port: int, collector: Collector) -> Iterator[Pages]:
    folder = tmp_path / "pages"
    folder.mkdir()
    served = Pages(folder, page_port, collector.url)
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, screen={"width": 1920, "height": 1080},
                              locale="en-GB", timezone_id="Asia/Kolkata")
    yield ctx
    ctx.close()
