"""`footfall demo`: the whole pipeline on embedded defaults, and a page that fires the tracker.

It starts its own redis-server (AOF on, in the demo folder), a collector, a drainer and the SQLite
store, writes a sites file for a demo site, and serves a demo page from another port (so the browser
talks to the collector cross-origin, as a real site does).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from footfall import static
from footfall.cli.redis_server import RedisServer
from footfall.cli.status import gather
from footfall.settings import Settings

DEMO_KEY = "pk_demo"


def write_sites(path: Path, origin: str) -> None:
    secret = secrets.token_urlsafe(24)
    path.write_text(f'''[[site]]
id = "demo"
public_key = "{DEMO_KEY}"
secret = "{secret}"
origins = ["{origin}"]
default_event_name = "event.page"
event_names = [["^/$", "event.home.view"], ["^/watch/", "event.video.watch"], ["^/news/", "event.news"]]
''')


class DemoPage(SimpleHTTPRequestHandler):
    """Serves the demo page at every path (so SPA-style URLs work) and the live status at /status."""

    def __init__(self, *args: Any, page: bytes, settings: Settings, **kwargs: Any) -> None:
        self.page = page
        self.settings = settings
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path == "/status":
            body = json.dumps(gather(self.settings)).encode()
            kind = "application/json"
        else:
            body, kind = self.page, "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} did not start (exit {process.returncode})")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f}s")


def run_demo(port: int, directory: str) -> int:
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    page_url = f"http://127.0.0.1:{port}"
    collector_url = f"http://127.0.0.1:{port + 1}"
    write_sites(folder / "sites.toml", page_url)
    redis = RedisServer(folder / "redis").start()
    env = {**os.environ, "FOOTFALL_REDIS_URL": redis.url, "FOOTFALL_SITES": str(folder / "sites.toml"),
           "FOOTFALL_STORE_URL": f"sqlite:///{folder / 'footfall.db'}", "FOOTFALL_DRAINER_ID": "demo"}
    settings = Settings(redis_url=env["FOOTFALL_REDIS_URL"], store_url=env["FOOTFALL_STORE_URL"])
    command = [sys.executable, "-m", "footfall.cli"]
    children = [
        subprocess.Popen([*command, "collector", "--port", str(port + 1)], env=env),
        subprocess.Popen([*command, "drainer"], env=env),
    ]
    template = static.read("demo.html").decode()
    page = template.replace("{{COLLECTOR}}", collector_url).replace("{{KEY}}", DEMO_KEY).encode()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(DemoPage, page=page, settings=settings))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _wait_http(f"{collector_url}/readyz", children[0])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"Footfall demo page: {page_url}/", flush=True)
        print(f"collector: {collector_url}  (metrics: {collector_url}/metrics)", flush=True)
        print(f"store: {folder / 'footfall.db'}  — Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            if any(c.poll() is not None for c in children):
                print("a demo process exited; stopping", file=sys.stderr)
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.shutdown()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        redis.stop()
