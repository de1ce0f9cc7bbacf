"""Privacy and abuse options: anonymised IPs, Do Not Track, bots, rate limits, retention and erasure."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from conftest import BROWSER_HEADERS, SERVER_HEADERS, browser_batch, env_of, page_view
from fastapi.testclient import TestClient
from redis import Redis
from stores import log_doc

from footfall import keys
from footfall.addresses import anonymize
from footfall.collector.app import create_app
from footfall.progress import folds, progress_in
from footfall.settings import Settings
from footfall.sites import Sites
from footfall.stores import Store

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def client_for(settings: Settings, sites: Sites, peer: str = "81.2.69.160", **overrides: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), sites), client=(peer, 5000))


def post(client: TestClient, events: list[dict[str, Any]], **headers: str) -> Any:
    body = orjson.dumps(browser_batch(events))
    return client.post("/v1/events", content=body, headers={**BROWSER_HEADERS, **headers})


def queued(redis: Redis, stream: str = "website_logs") -> list[dict[str, Any]]:
    return [orjson.loads(r) for r in reversed(redis.lrange(keys.queue(stream), 0, -1))]


def test_addresses_are_truncated_or_dropped_after_geolocation(settings: Settings, sites: Sites, redis: Redis) -> None:
    assert anonymize("81.2.69.160", "truncate") == "81.2.69.0"
    assert anonymize("2001:4860:4860::8888", "truncate") == "2001:4860:4860::"
    assert anonymize("81.2.69.160", "drop") is None and anonymize("81.2.69.160", "none") == "81.2.69.160"
    for mode in ("truncate", "drop"):
        with client_for(settings, sites, ip_anonymize=mode) as client:
            post(client, [page_view()])
    truncated, dropped = queued(redis)
    assert truncated["ip"] == "81.2.69.0" and dropped.get("ip") is None
    assert truncated["city"] == dropped["city"] == "Willesden"  # located first, then forgotten


def test_do_not_track_and_gpc_are_honoured_when_enabled(settings: Settings, sites: Sites, redis: Redis) -> None:
    with client_for(settings, sites, honor_dnt=True) as client:
        assert post(client, [page_view()], DNT="1").json() == {"accepted": 0, "rejected": [], "ignored": 1}
        assert post(client, [page_view()], **{"Sec-GPC": "1"}).json()["ignored"] == 1
        assert post(client, [page_view()]).json()["accepted"] == 1
    with client_for(settings, sites) as client:
        assert post(client, [page_view()], DNT="1").json()["accepted"] == 1  # the option is off by default
    assert len(queued(redis)) == 2


@pytest.mark.parametrize(("mode", "main", "bots"), [("keep", 2, 0), ("separate", 1, 1), ("drop", 1, 0)])
def test_bots_are_kept_apart_or_dropped_as_configured(settings: Settings, sites: Sites, redis: Redis,
                                                      mode: str, main: int, bots: int) -> None:
    with client_for(settings, sites, bots=mode) as client:
        post(client, [page_view()])
        response = post(client, [page_view()], **{"User-Agent": BOT})
        assert response.status_code == 202
    assert len(queued(redis)) == main and len(queued(redis, "bot_logs")) == bots
    if bots:
        assert queued(redis, "bot_logs")[0]["device_type"] == "Bot"


def test_rate_limits_per_client_ip_and_per_site_answer_429(settings: Settings, sites: Sites, redis: Redis) -> None:
    with client_for(settings, sites, rate_limit_ip=3) as client:
        answers = [post(client, [page_view()]) for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 61
        assert "client IP" in answers[-1].json()["error"]
    with client_for(settings, sites, peer="81.2.69.161", rate_limit_ip=3) as client:
        assert post(client, [page_view()]).status_code == 202  # another client has its own window
    with client_for(settings, sites, peer="81.2.69.162", rate_limit_ip=0, rate_limit_site=5) as client:
        answers = [post(client, [page_view()]) for _ in range(6)]
        server = client.post("/v1/server-events", json=[{"type": "request", "path": "/"}], headers=SERVER_HEADERS)
    assert [a.status_code for a in answers] == [202] * 5 + [429] and "site" in answers[-1].json()["error"]
    assert server.status_code == 202  # the site's own server events have a budget of their own (issue 12)
    assert len(queued(redis)) == 3 + 1 + 5 + 1  # nothing from a refused request


def test_prune_deletes_raw_events_older_than_the_retention(settings: Settings, store: Store) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    store.insert("website_logs", [log_doc(0, received_at=old), log_doc(1, received_at=datetime.now(UTC))])
    result = subprocess.run([sys.executable, "-m", "footfall.cli", "prune"], env=env_of(settings, retention_days=30),
                            capture_output=True, text=True, check=True)
    assert orjson.loads(result.stdout)["deleted"]["website_logs"] == 1
    assert [d["_id"] for d in store.find("website_logs")] == [log_doc(1)["_id"]]
    refused = subprocess.run([sys.executable, "-m", "footfall.cli", "prune"], env=env_of(settings),
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "RETENTION" in refused.stderr


def test_forget_erases_one_users_events_and_progress(settings: Settings, store: Store) -> None:
    store.insert("website_logs", [log_doc(0, user_id="42"), log_doc(1, user_id="7")])
    store.insert("exit_links", [{**log_doc(2, user_id="42"), "type": "exit_link", "link_url": "https://x.test/"}])
    at = datetime(2026, 5, 4, tzinfo=UTC)
    progress_in(store).fold(folds([{"site": "test", "user_id": user, "foss": "BASH", "tutorial": "intro",
                                 "type": "video_progress", "timestamp": at, "position": 1.0, "minute": 0}
                                for user in ("42", "7")]), threshold=0.8)
    result = subprocess.run([sys.executable, "-m", "footfall.cli", "forget", "--user", "42"], env=env_of(settings),
                            capture_output=True, text=True, check=True)
    deleted = orjson.loads(result.stdout)["deleted"]
    assert (deleted["website_logs"], deleted["exit_links"], deleted["tutorial_progress"],
            deleted["resume_points"]) == (1, 1, 1, 1)
    assert [d["user_id"] for d in store.find("website_logs")] == ["7"]
    learners = progress_in(store)
    assert learners.read("test", "7", "BASH", "")[0] and not learners.read("test", "42", "BASH", "")[0]
