"""The `footfall` command: the demo runs the whole pipeline; init-db and configuration errors are clear."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from browser import CHROMIUM
from conftest import free_port_pair, wait_until
from playwright.sync_api import sync_playwright

FOOTFALL = [sys.executable, "-m", "footfall.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
    return {**env, **extra}


def test_demo_runs_redis_collector_drainer_and_a_page_that_fires_the_tracker(tmp_path: Path) -> None:
    port = free_port_pair()
    log = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen([*FOOTFALL, "demo", "--port", str(port), "--dir", str(tmp_path / "demo")],
                            env=clean_env(), stdout=log, stderr=subprocess.STDOUT, text=True)
    page = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: f"Footfall demo page: {page}/" in (tmp_path / "demo.log").read_text(), timeout=30,
                   what="the demo to print its URL")
        html = httpx.get(page + "/").text
        collector = f"http://127.0.0.1:{port + 1}"
        assert f'src="{collector}/footfall.js"' in html and 'data-key="pk_demo"' in html
        assert httpx.get(f"{collector}/footfall.js").status_code == 200
        event = {"key": "pk_demo", "events": [{"type": "page_view", "url": page + "/", "title": "Footfall demo"}]}
        response = httpx.post(f"{collector}/v1/events", content=orjson.dumps(event), headers={"Origin": page})
        assert response.status_code == 202
        wait_until(lambda: httpx.get(page + "/status").json()["store"]["documents"]["website_logs"] == 1,
                   what="the demo's drainer to store the event")
        with sync_playwright() as playwright:  # and the page itself fires the tracker in a real browser
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM)
            tab = browser.new_page()
            tab.goto(page + "/")
            tab.click("#custom")
            wait_until(lambda: httpx.get(page + "/status").json()["store"]["documents"]["website_logs"] >= 3,
                       what="the demo page's page view and custom event to be stored")
            assert "website_logs: waiting 0" in tab.inner_text("#status")
            browser.close()
        # The banner's export line points the CLI at this demo, not at some other Redis.
        [exports] = [line for line in (tmp_path / "demo.log").read_text().splitlines()
                     if line.startswith("  export ")]
        pasted = subprocess.run(["bash", "-c", f"{exports.strip()} && {' '.join(FOOTFALL)} status --json"],
                                env=clean_env(), capture_output=True, text=True, timeout=30)
        status = orjson.loads(pasted.stdout)
        assert "demo" in status["drainers"] and status["store"]["documents"]["website_logs"] >= 3
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(30)
        log.close()
    assert code == 0, (tmp_path / "demo.log").read_text()
    assert (tmp_path / "demo" / "footfall.db").exists()
    assert (tmp_path / "demo" / "redis" / "appendonlydir").exists()


def test_init_db_creates_the_store_and_can_run_again(tmp_path: Path) -> None:
    env = clean_env(FOOTFALL_STORE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    for _ in range(2):
        result = subprocess.run([*FOOTFALL, "init-db"], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(tmp_path / "x.db").execute("SELECT name FROM sqlite_master")}
    assert {"website_logs", "exit_links", "progress_events", "dead_letters", "website_logs_site_time"} <= tables


def test_bad_configuration_is_named(tmp_path: Path) -> None:
    result = subprocess.run([*FOOTFALL, "status"], env=clean_env(FOOTFALL_BATCH_SIZE="lots"),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "FOOTFALL_BATCH_SIZE" in result.stderr and result.stderr.count("\n") == 1
    result = subprocess.run([*FOOTFALL, "collector"], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "FOOTFALL_SITES" in result.stderr
    bad = tmp_path / "sites.toml"
    bad.write_text('[[site]]\nid = "x"\npublic_key = "pk"\nsecret = "short"\n')
    result = subprocess.run([*FOOTFALL, "collector"], env=clean_env(FOOTFALL_SITES=str(bad)),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "secret" in result.stderr and "short" not in result.stderr


@pytest.mark.parametrize(("command", "env", "words"), [
    ("status", {"FOOTFALL_REDIS_URL": "foo://x"}, "FOOTFALL_REDIS_URL: must start with redis://"),
    ("init-db", {"FOOTFALL_STORE_URL": "postgres://x"}, "FOOTFALL_STORE_URL: must start with sqlite://"),
    ("status", {"FOOTFALL_REDIS_URL": "redis://user:pw@127.0.0.1:1/0"}, "redis at redis://***@127.0.0.1:1/0"),
    ("init-db", {"FOOTFALL_STORE_URL": "sqlite:////proc/none/x.db"}, "sqlite /proc/none/x.db: No such file"),
])
def test_an_unusable_redis_or_store_url_is_one_line_not_a_traceback(command: str, env: dict[str, str],
                                                                     words: str) -> None:
    result = subprocess.run([*FOOTFALL, command], env=clean_env(**env), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "pw" not in result.stderr


def test_status_no_longer_lists_a_drainer_that_finished(tmp_path: Path) -> None:
    from footfall.cli.redis_server import RedisServer

    redis = RedisServer(tmp_path / "redis").start()
    try:
        env = clean_env(FOOTFALL_REDIS_URL=redis.url, FOOTFALL_STORE_URL=f"sqlite:///{tmp_path / 'f.db'}")
        drained = subprocess.run([*FOOTFALL, "drainer", "--id", "once", "--until-empty"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert drained.returncode == 0, drained.stderr
        status = subprocess.run([*FOOTFALL, "status", "--json"], env=env, capture_output=True, text=True, timeout=30)
        assert orjson.loads(status.stdout)["drainers"] == {}
    finally:
        redis.stop()


def test_demo_on_a_busy_port_says_so_and_starts_nothing(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run([*FOOTFALL, "demo", "--port", str(port), "--dir", str(tmp_path / "demo")],
                                env=clean_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"port {port}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "demo" / "redis").exists()  # no Redis, collector or drainer left behind
