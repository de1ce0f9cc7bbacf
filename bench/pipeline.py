"""What the benchmarks share: a private Redis, a sites file, and footfall processes to measure."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from footfall.cli.redis_server import RedisServer, free_port

ORIGIN = "http://bench.test"
KEY = "pk_bench"
SECRET = "sk_bench_0123456789abcdef0123456789abcdef"
HERE = Path(__file__).resolve().parent


class Pipeline:
    """Redis (AOF on, as in production), a SQLite store and the processes started on them."""

    def __init__(self, **settings: object) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="footfall-bench-"))
        self.redis = RedisServer(self.dir / "redis").start()
        sites = write_sites(self.dir / "sites.toml")
        self.store_path = self.dir / "footfall.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
        self.env.update({"FOOTFALL_REDIS_URL": self.redis.url, "FOOTFALL_SITES": str(sites),
                         "FOOTFALL_STORE_URL": f"sqlite:///{self.store_path}", "FOOTFALL_MAX_QUEUE": "10000000",
                         "FOOTFALL_LOG_LEVEL": "WARNING",
                         # counted (the push script's full path) but never reached: all load comes from one IP
                         "FOOTFALL_RATE_LIMIT_IP": "1000000000", "FOOTFALL_RATE_LIMIT_SITE": "1000000000"})
        self.env.update({f"FOOTFALL_{k.upper()}": str(v) for k, v in settings.items()})
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(list(args), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def collector(self) -> str:
        port = free_port()
        self.start(sys.executable, "-m", "footfall.cli", "collector", "--port", str(port))
        return wait_ready(f"http://127.0.0.1:{port}", "/healthz")

    def bare(self) -> str:
        """The same uvicorn configuration serving a route that only answers 202."""
        port = free_port()
        self.start(sys.executable, str(HERE / "bare.py"), str(port))
        return wait_ready(f"http://127.0.0.1:{port}", "/healthz")

    def drainer(self, drainer_id: str = "bench") -> subprocess.Popen[bytes]:
        return self.start(sys.executable, "-m", "footfall.cli", "drainer", "--id", drainer_id)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=15)
        self.redis.stop()


def write_sites(path: Path) -> Path:
    """One site, "bench", whose public key, secret and origin the benchmarks use."""
    path.write_text(f'[[site]]\nid = "bench"\npublic_key = "{KEY}"\nsecret = "{SECRET}"\n'
                    f'origins = ["{ORIGIN}"]\nevent_names = [["^/$", "event.home.view"]]\n')
    return path


def wait_ready(url: str, path: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=0.5).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}, speed {python_speed():.0f} M loops/s"


def python_speed() -> float:
    """Millions of trivial Python loop iterations a second, best of three: our VM's speed drifts by up to
    2x between days, so each run says how fast the machine was when it ran."""
    best = 0.0
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(2_000_000):
            total += i
        best = max(best, 2.0 / (time.perf_counter() - started))
    return best
