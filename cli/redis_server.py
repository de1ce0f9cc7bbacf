"""A private `redis-server` process (AOF on), for the demo and for tests that kill and restart Redis."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None, config: Path | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.config = config
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [binary] + ([str(self.config)] if self.config else [])
        args += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                 "--appendonly", "yes", "--save", "", "--daemonize", "no",
                 "--logfile", str(self.directory / "redis.log"), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        client = Redis.from_url(self.url, socket_connect_timeout=0.2)
        while True:
            try:
                if client.ping():
                    client.close()
                    return self
            except RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}") from None
                time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """SIGTERM is a clean shutdown (AOF flushed); SIGKILL is a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=15)
        self.process = None
