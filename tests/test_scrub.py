"""The one scrubber (footfall/scrub.py), and the collector using it for every source (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import BROWSER_HEADERS, SERVER_HEADERS, SITES_TOML, browser_batch, page_view
from fastapi.testclient import TestClient
from redis import Redis

from footfall import keys
from footfall.collector.app import create_app
from footfall.scrub import Scrubber
from footfall.settings import Settings
from footfall.sites import Sites, SitesError

SCRUB = Scrubber()


@pytest.mark.parametrize("name", [
    "password", "password_confirm", "passwd", "pwd", "pass", "passphrase", "api_key", "apiKey", "X-Api-Key",
    "cc_number", "security_code", "auth_code", "secret", "client_secret", "token", "csrfmiddlewaretoken", "cvv",
    "otp", "user.pin", "sessionid", "signature",
])
def test_secret_looking_names_are_secret(name: str) -> None:
    assert SCRUB.is_secret(name)


@pytest.mark.parametrize("name", ["username", "compass", "passenger", "spinner", "next", "author", "bio", "page",
                                  "hotpath", "q"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert not SCRUB.is_secret(name)


def test_an_operators_words_are_secret_anywhere_in_a_name() -> None:
    assert Scrubber(words=("voucher",)).is_secret("giftVoucherCode")


@pytest.mark.parametrize(("url", "kept"), [
    ("/login/?next=/&token=T&password=P", "/login/?next=%2F"),
    ("https://site.test/a?q=bash&api_key=K", "https://site.test/a?q=bash"),
    ("https://site.test/cb#access_token=AT&state=s", "https://site.test/cb#state=s"),
    ("https://site.test/a?q=x&y=1", "https://site.test/a?q=x&y=1"),
    ("/accounts/reset/MQ/5tz-abc/", "/accounts/reset/:secret:/:secret:/"),
    ("http://[abc/?token=T", "http://[abc/"),
])
def test_urls_lose_secret_parameters_and_path_segments(url: str, kept: str) -> None:
    assert SCRUB.url(url) == kept


def test_free_form_data_loses_secret_keys_at_any_depth() -> None:
    data = {"name": "ada", "pwd": "x", "profile": {"api_key": "k", "langs": [{"passphrase": "p", "lang": "en"}]}}
    assert SCRUB.tree(data) == {"name": "ada", "profile": {"langs": [{"lang": "en"}]}}


@pytest.fixture
def scrubbing(settings: Settings, tmp_path: Path) -> Any:
    sites = tmp_path / "scrub-sites.toml"
    sites.write_text(SITES_TOML.replace('origins = ["http://site.test"]', 'origins = ["http://site.test"]\n'
                                        'scrub_words = ["voucher"]\n'
                                        'secret_paths = ["^/invite/(?P<code>[^/]+)/"]'))
    with TestClient(create_app(settings, Sites.load(sites)), client=("203.0.113.7", 5000)) as client:
        yield client


def queued(redis: Redis) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in reversed(redis.lrange(keys.queue("website_logs"), 0, -1))]


def test_the_collector_scrubs_browser_urls_referrers_and_props(scrubbing: TestClient, redis: Redis) -> None:
    event = page_view(url="http://site.test/invite/INVITE99/?voucher=V0UCH&ref=mail",
                      referrer="http://site.test/login/?next=/&token=T0KEN&password=PASSW0RD",
                      props={"course": "bash", "auth": {"api_key": "APIK3Y"}})
    response = scrubbing.post("/v1/events", content=orjson.dumps(browser_batch([event])), headers=BROWSER_HEADERS)
    assert response.status_code == 202, response.text
    [doc] = queued(redis)
    assert doc["url"] == "http://site.test/invite/:secret:/?ref=mail" and doc["path"] == "/invite/:secret:/"
    assert doc["referrer"] == "http://site.test/login/?next=%2F"
    assert doc["props"] == {"course": "bash"}
    for secret in ("INVITE99", "V0UCH", "T0KEN", "PASSW0RD", "APIK3Y"):
        assert secret not in str(doc)


def test_the_collector_scrubs_server_events_too(scrubbing: TestClient, redis: Redis) -> None:
    event = {"type": "request", "path": "/accounts/reset/MQ/5tz-c0ffee/", "method": "POST",
             "url": "/accounts/reset/MQ/5tz-c0ffee/?token=QT0K", "view_kwargs": {"uidb64": "MQ", "token": "KT0K"},
             "post_data": {"new_password1": "NP1", "profile": {"pass": "PP", "cc_number": "4111", "lang": "en",
                                                              "security_code": "SC", "auth_code": "AC"}}}
    response = scrubbing.post("/v1/server-events", json={"events": [event]}, headers=SERVER_HEADERS)
    assert response.status_code == 202, response.text
    [doc] = queued(redis)
    assert doc["path"] == "/accounts/reset/:secret:/:secret:/" and doc["view_kwargs"] == {"uidb64": "MQ"}
    assert doc["post_data"] == {"profile": {"lang": "en"}}
    for secret in ("5tz-c0ffee", "QT0K", "KT0K", "NP1", "4111", "\"SC\"", "\"AC\"", "\"PP\""):
        assert secret not in orjson.dumps(doc).decode()


CATASTROPHIC = "^/tutorials/([a-z0-9]+-?)+/$"  # exponential backtracking in a backtracking engine


def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text(SITES_TOML.replace('event_names = [', f'event_names = [["{CATASTROPHIC}", "event.tutorial"], '))
    site = Sites.load(sites).by_key("pk_test")
    assert site is not None
    path = "/tutorials/" + "a" * 60 + "!/"  # Python's re would take longer than the universe has existed
    assert site.event_name(path) == "event.page"
    assert site.event_name("/tutorials/bash-intro/") == "event.tutorial"
    assert not isinstance(site.event_names[0][0], re.Pattern)


def test_a_pattern_that_needs_backtracking_is_refused_when_the_sites_file_loads(tmp_path: Path) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text(SITES_TOML.replace('event_names = [', 'event_names = [["^/(a)\\\\1/$", "event.x"], '))
    with pytest.raises(SitesError, match=r"is not RE2 \(linear-time\) syntax"):
        Sites.load(sites)
