"""The Django shim: every request logged once, secrets never sent, the site never slowed or broken.

A real Django site (tests/django_site) under the test client and under real gunicorn (pre-fork) and
uvicorn (ASGI) processes, against a real collector, Redis, drainer and SQLite store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import SECRET, Process, answers, wait_until

from footfall.cli.redis_server import free_port
from footfall.stores import Store

TESTS = Path(__file__).resolve().parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

import footfall_django  # noqa: E402
from footfall_django import sender as sender_module  # noqa: E402

call_command("migrate", verbosity=0)
BASE = dict(__import__("django_site.settings").settings.FOOTFALL)


def footfall(url: str, **overrides: Any) -> Any:
    return override_settings(FOOTFALL={**BASE, "COLLECTOR_URL": url, **overrides})


def flush() -> None:
    current = sender_module._current
    assert current is not None and current.flush(10), footfall_django.stats()


@pytest.fixture
def drained(collector_url: str, start_drainer: Callable[..., Process], store: Store) -> Iterator[Store]:
    start_drainer("d1")
    with footfall(collector_url):
        yield store


def requests_logged(store: Store, n: int) -> list[dict[str, Any]]:
    wait_until(lambda: store.count("website_logs") >= n, what=f"{n} requests to be stored")
    docs = store.find("website_logs")
    assert len(docs) == n, [d["path"] for d in docs]
    return sorted(docs, key=lambda d: d["timestamp"])


def test_every_request_lands_once_with_the_right_fields(drained: Store) -> None:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
                    HTTP_REFERER="https://search.example/?q=bash")
    assert client.get("/").status_code == 200
    assert client.get("/watch/bash/intro/english/?q=loops&token=abc123&page=2").status_code == 200
    assert client.get("/login-as/ada/").status_code == 200
    assert client.get("/accounts/register/").status_code == 200
    flush()
    home, watch, login, register = requests_logged(drained, 4)
    assert home["source"] == "server" and home["type"] == "request" and home["method"] == "GET"
    assert home["event_name"] == "event.home.view" and home["status_code"] == 200
    assert home["first_time_visit"] is True and watch["first_time_visit"] is False
    assert home["user_id"] is None and home["ip"] == "127.0.0.1"
    assert home["referrer"] == "https://search.example/?q=bash" and home["browser_family"] == "Chrome"
    assert home["duration_ms"] >= 0 and home["view_name"] == "home"
    assert watch["event_name"] == "event.video.watch"
    assert watch["view_kwargs"] == {"foss": "bash", "tutorial": "intro", "language": "english"}
    assert watch["url"] == "/watch/bash/intro/english/?q=loops&page=2"  # the token parameter is never sent
    # the event is built after the response: the request that logs in already carries the user
    assert login["username"] == register["username"] == "ada" and login["user_id"] == register["user_id"]
    assert register["session_id"] and len(register["session_id"]) == 32
    assert register["event_name"] == "event.register"


def test_password_and_other_secret_fields_never_reach_the_collector(drained: Store) -> None:
    form = {"username": "ada", "bio": "<script>alert(1)</script>", "password": "hunter2",
            "password_confirm": "hunter2", "csrfmiddlewaretoken": "x" * 32, "card_number": "4111111111111111",
            "cvv": "123", "otp_code": "999999", "api_token": "t0k", "client_secret": "s3", "user.pin": "1234",
            "$where": "1", "a.b": "dotted"}
    assert Client().post("/accounts/register/", form).status_code == 201
    flush()
    [doc] = requests_logged(drained, 1)
    assert doc["post_data"] == {"username": "ada", "bio": "<script>alert(1)</script>", "_where": "1",
                                "a_b": "dotted"}
    stored = str(doc)
    for secret in ("hunter2", "4111111111111111", "999999", "t0k", "s3", "1234", "x" * 32):
        assert secret not in stored


def test_secrets_in_the_url_referrer_path_and_view_kwargs_never_reach_the_collector(drained: Store) -> None:
    referrer = "http://site.test/login/?next=/&token=REFTOKEN&password=REFPASS"
    response = Client().get("/accounts/reset/MQ/5tz-c0ffee1234/?next=/home/&api_key=URLKEY&pwd=URLPWD",
                            HTTP_REFERER=referrer)
    assert response.status_code == 200
    flush()
    [doc] = requests_logged(drained, 1)
    assert doc["path"] == "/accounts/reset/:secret:/:secret:/"
    assert doc["url"] == "/accounts/reset/:secret:/:secret:/?next=%2Fhome%2F"
    assert doc["referrer"] == "http://site.test/login/?next=%2F"
    assert doc["view_kwargs"] == {"uidb64": "MQ"}  # the token is a secret by its name
    for secret in ("5tz-c0ffee1234", "URLKEY", "URLPWD", "REFTOKEN", "REFPASS"):
        assert secret not in str(doc)


def test_a_view_that_raises_still_logs_a_500(drained: Store) -> None:
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    flush()
    [doc] = requests_logged(drained, 1)
    assert doc["status_code"] == 500 and doc["path"] == "/boom/" and doc["view_name"] == "boom"


def test_static_files_and_excluded_paths_are_not_logged(drained: Store) -> None:
    client = Client()
    client.get("/static/app.css")
    client.get("/")
    flush()
    assert [d["path"] for d in requests_logged(drained, 1)] == ["/"]


def test_the_tracker_tag_carries_a_signed_token_only_for_a_logged_in_user(drained: Store) -> None:
    client = Client()
    anonymous = client.get("/page/").content.decode()
    assert 'data-key="pk_test"' in anonymous and "/footfall.js" in anonymous
    assert "data-user-token" not in anonymous
    client.get("/login-as/grace/")
    html = client.get("/page/").content.decode()
    token = html.split('data-user-token="')[1].split('"')[0]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="footfall")
    assert claims["name"] == "grace" and claims["exp"] - claims["iat"] == 3600
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-0123456789abcdef0123456789", algorithms=["HS256"], audience="footfall")


def test_with_the_collector_down_requests_succeed_and_drops_are_counted() -> None:
    with footfall(f"http://127.0.0.1:{free_port()}", MAX_QUEUE=10, BATCH_SIZE=5):
        client = Client()
        for _ in range(40):
            assert client.get("/").status_code == 200
        stats = footfall_django.stats()
    assert stats["sent"] == 0
    assert stats["queued"] + stats["in_flight"] + stats["dropped"] == 40
    assert stats["dropped"] >= 40 - 10 - 5


@pytest.fixture
def hanging_collector() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(100)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_with_the_collector_hanging_no_request_waits_for_it(hanging_collector: str) -> None:
    with footfall(hanging_collector, TIMEOUT=5.0, BATCH_SIZE=5):
        client = Client()
        slowest = 0.0
        for _ in range(50):
            started = time.perf_counter()
            assert client.get("/watch/a/b/c/").status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
        stats = footfall_django.stats()
    # the sender is stuck in a 5 s read; had any request waited on it, it would have taken seconds
    assert slowest < 1.0, slowest
    assert stats["sent"] == 0 and stats["queued"] + stats["in_flight"] == 50


def test_async_views_path_is_used_under_asgi() -> None:
    from django.http import HttpResponse

    from footfall_django.middleware import FootfallMiddleware

    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    from asgiref.sync import iscoroutinefunction

    middleware = FootfallMiddleware(get_response)
    assert middleware.async_mode and iscoroutinefunction(middleware)


def serve(command: list[str], env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, cwd=TESTS, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        return answers(f"http://127.0.0.1:{port}/")

    wait_until(up, what=f"{command[2]} to serve the test site")
    return process


def site_env(collector_url: str, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "site.db"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "django_site.settings", "FOOTFALL_TEST_COLLECTOR": collector_url,
           "DJANGO_SITE_DB": str(db), "PYTHONPATH": str(TESTS)}
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=TESTS, check=True)
    return env


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_a_real_server_process_logs_every_request_once(
        server: str, collector_url: str, start_drainer: Callable[..., Process], store: Store, tmp_path: Path) -> None:
    start_drainer("d1")
    port = free_port()
    env = site_env(collector_url, tmp_path)
    if server == "gunicorn":  # pre-fork, app loaded before forking: each worker needs its own sender thread
        command = [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b", f"127.0.0.1:{port}",
                   "django_site.wsgi:application"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--port", str(port), "django_site.asgi:application"]
    process = serve(command, env, tmp_path / f"{server}.log", port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(30):
                assert client.get(f"/watch/bash/t{i}/en/").status_code == 200
            assert client.get("/boom/").status_code == 500
        wait_until(lambda: store.count("website_logs") == 32, what="every request to be stored")
    finally:
        process.terminate()
        process.wait(15)
    docs = store.find("website_logs")
    assert sorted(d["path"] for d in docs if d["path"].startswith("/watch/")) == sorted(
        f"/watch/bash/t{i}/en/" for i in range(30))
    assert [d["status_code"] for d in docs if d["path"] == "/boom/"] == [500]


def test_events_still_queued_at_exit_are_flushed(collector_url: str, start_drainer: Callable[..., Process],
                                                  store: Store, tmp_path: Path) -> None:
    start_drainer("d1")
    env = site_env(collector_url, tmp_path)
    script = ("import django; django.setup()\n"
              "from django.conf import settings\n"
              "from django.test import Client, override_settings\n"
              "with override_settings(FOOTFALL={**settings.FOOTFALL, 'FLUSH_INTERVAL': 600, 'BATCH_SIZE': 1000}):\n"
              "    c = Client()\n"
              "    for i in range(15): c.get(f'/watch/x/{i}/en/')\n"
              "    import footfall_django; assert footfall_django.stats()['sent'] == 0\n")
    subprocess.run([sys.executable, "-c", script], env=env, cwd=TESTS, check=True, timeout=60)
    wait_until(lambda: store.count("website_logs") == 15, what="events flushed at exit to be stored")


def test_refusals_are_logged_once_a_minute_without_the_secret(
        collector_url: str, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "sk_wrong_0123456789abcdef0123456789abcdef"
    with footfall(collector_url, SECRET=wrong, BATCH_SIZE=1), caplog.at_level("WARNING", "footfall.django"):
        client = Client()
        for _ in range(5):
            client.get("/")
        flush()
        stats = footfall_django.stats()
    assert stats["failed_batches"] == 5 and stats["dropped"] == 5 and stats["sent"] == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "footfall.django"]
    assert lines == ["footfall: collector refused a batch with 401; dropped 1 events"]
    assert wrong not in caplog.text and SECRET not in caplog.text
