"""Following a live tracking.log (issue 13): real files, appended to and rotated while a real
`footfall import-edx --follow` process follows them, killed and restarted: every line stored once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from conftest import wait_until

from footfall.settings import Settings
from footfall.stores import Store


def event_line(n: int) -> bytes:
    return orjson.dumps({"time": f"2026-03-02T10:{n // 60 % 60:02d}:{n % 60:02d}Z", "event_type": "play_video",
                         "username": f"learner{n}", "context": {"user_id": n, "course_id": "A/B/C"},
                         "event": {"id": "v1", "currentTime": n}})


def append(path: Path, numbers: range) -> None:
    with path.open("ab") as log:
        log.write(b"".join(event_line(n) + b"\n" for n in numbers))
        log.flush()
        os.fsync(log.fileno())


@pytest.fixture
def follow(tmp_path: Path, settings: Settings) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_STORE_URL": settings.store_url}

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "footfall.cli", "import-edx", "--follow",
                                    str(tmp_path / "tracking.log")], env=env,
                                   stderr=(tmp_path / "follow.log").open("ab"))
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def stored(store: Store, n: int) -> None:
    wait_until(lambda: store.count("edx_events") >= n, timeout=30, what=f"{n} events stored")
    users = {d["username"] for d in store.find("edx_events", limit=100_000)}
    assert store.count("edx_events") == len(users) == n


def test_a_followed_log_rotated_by_rename_and_by_copy_truncate_loses_nothing(
        tmp_path: Path, store: Store, follow: Callable[[], subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "tracking.log"
    append(log, range(0, 100))
    follower = follow()
    stored(store, 100)
    append(log, range(100, 150))
    log.rename(tmp_path / "tracking.log.1")  # rotation by rename: the old file may still get lines
    append(tmp_path / "tracking.log.1", range(150, 160))
    append(log, range(160, 200))
    stored(store, 200)
    shutil.copy(log, tmp_path / "tracking.log.2")  # rotation by copy and truncate
    with log.open("r+b") as handle:
        handle.truncate(0)
    append(log, range(200, 230))
    stored(store, 230)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(30) == 0
    assert {d["file"] for d in store.find("imports")} == {"tracking.log"}  # the ledger: the followed file


def test_a_follower_killed_and_restarted_resumes_exactly_even_after_a_rotation_it_missed(
        tmp_path: Path, store: Store, follow: Callable[[], subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "tracking.log"
    append(log, range(0, 300))
    follower = follow()
    stored(store, 300)
    follower.kill()  # no goodbye
    follower.wait()
    append(log, range(300, 350))  # written while nobody follows
    log.rename(tmp_path / "tracking.log.1")  # and rotated away
    append(log, range(350, 400))
    follower = follow()
    stored(store, 400)
    line_numbers = sorted(d["line"] for d in store.find("edx_events", limit=100_000) if d["file"] == "tracking.log.1")
    assert line_numbers == list(range(301, 351))  # the rotated file's own line numbers, resumed where it stopped
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(30) == 0
