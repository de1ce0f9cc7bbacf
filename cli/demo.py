"""`footfall demo`: the whole pipeline on embedded defaults, and a page that fires the tracker.

It starts its own redis-server (AOF on, in the demo folder), a collector, a drainer and the SQLite
store, writes a sites file for a demo site, and serves a demo page from another port (so the browser
talks to the collector cross-origin, as a real site does).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
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


def write_sites(path: Path, origin: str) -> str:
    """The demo site, with a secret made for this run; returns the secret."""
    secret = secrets.token_urlsafe(24)
    path.write_text(f'''[[site]]
id = "demo"
public_key = "{DEMO_KEY}"
secret = "{secret}"
origins = ["{origin}"]
default_event_name = "event.page"
event_names = [["^/$", "event.home.view"], ["^/watch/", "event.video.watch"], ["^/news/", "event.news"]]
''')
    return secret


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
    try:  # both ports first: nothing is started on a busy one
        with socket.create_server(("127.0.0.1", port + 1)):
            pass
        server = ThreadingHTTPServer(("127.0.0.1", port), DemoPage)
    except OSError as exc:
        print(f"footfall demo: port {port} or {port + 1} is in use ({exc.strerror}); pass --port", file=sys.stderr)
        return 2
    secret = write_sites(folder / "sites.toml", page_url)
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
    server.RequestHandlerClass = partial(DemoPage, page=page, settings=settings)  # type: ignore[assignment]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _wait_http(f"{collector_url}/readyz", children[0])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(banner(page_url, collector_url, env, secret), flush=True)
        while not stop.wait(0.5):
            if any(c.poll() is not None for c in children):
                print("a demo process exited; stopping", file=sys.stderr)
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.shutdown()
        server.server_close()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        redis.stop()


def banner(page_url: str, collector_url: str, env: dict[str, str], secret: str) -> str:
    """Everything a newcomer needs to point a browser, the CLI and a server at the demo."""
    exports = " ".join(f"{name}={shlex.quote(env[name])}" for name in
                       ("FOOTFALL_REDIS_URL", "FOOTFALL_STORE_URL", "FOOTFALL_SITES"))
    return "\n".join([
        f"Footfall demo page: {page_url}/",
        f"collector:          {collector_url}  (API docs: {collector_url}/docs, metrics: {collector_url}/metrics)",
        f"redis:              {env['FOOTFALL_REDIS_URL']}",
        f"store:              {env['FOOTFALL_STORE_URL']}",
        f"site:               demo  key {DEMO_KEY}  secret {secret}",
        "to point the footfall command at this demo (then `footfall status`), paste:",
        f"  export {exports}",
        "Ctrl-C to stop",
    ])
