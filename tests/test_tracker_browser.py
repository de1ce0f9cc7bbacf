"""The browser tracker in real headless Chromium (Debian's, driven by Playwright) against a real collector,
Redis, drainer and SQLite store, on test pages served from another local origin."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path
from typing import Any

import pytest
from browser import Collector, Pages
from conftest import wait_until
from playwright.sync_api import BrowserContext, Page, Route

from footfall.stores import Store

ROOT = Path(__file__).resolve().parent.parent

STATIC = Path(__file__).resolve().parents[1] / "static"  # the tracker's source, in the checkout


@pytest.fixture
def sites_file(tmp_path: Path, page_port: int) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(f'[[site]]\nid = "tutorials"\npublic_key = "pk_browser"\n'
                    f'secret = "sk_browser_0123456789abcdef0123456789abcdef"\n'
                    f'origins = ["http://127.0.0.1:{page_port}"]\n'
                    f'event_names = [["^/watch", "event.video.watch"]]\n')
    return path


def stored(store: Store, collection: str, n: int, **equals: Any) -> list[dict[str, Any]]:
    wait_until(lambda: len(store.find(collection, **equals)) >= n, timeout=30,
               what=f"{n} {collection} documents matching {equals}")
    return sorted(store.find(collection, **equals), key=lambda d: d["timestamp"])


def queued(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("() => JSON.parse(localStorage.getItem('footfall:queue') || '[]')")


# --- the tests -------------------------------------------------------------------------------------------

def test_a_page_view_lands_with_the_right_fields(pages: Pages, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    page.goto(pages.make("watch/bash.html"), referer="http://search.test/?q=bash")
    [view] = stored(store, "website_logs", 1, type="page_view")
    assert view["url"] == f"http://127.0.0.1:{pages.port}/watch/bash.html" and view["path"] == "/watch/bash.html"
    assert view["title"] == "A tutorial" and view["referrer"] == "http://search.test/?q=bash"
    assert view["event_name"] == "event.video.watch" and view["site"] == "tutorials" and view["source"] == "browser"
    assert view["screen"] == "1920x1080" and view["language"] == "en-GB" and view["tz_offset"] == 330
    assert view["first_time_visit"] is True and view["ip"] == "127.0.0.1"
    assert view["browser_family"] and view["device_type"] in ("PC", "Bot")
    made_at = int(view["_id"].replace("-", "")[:12], 16) / 1000  # a UUIDv7: it starts with its time
    assert view["_id"][14] == "7" and abs(made_at - view["received_at"].timestamp()) < 60
    page.goto(pages.make("second.html"))
    [again] = stored(store, "website_logs", 1, path="/second.html")
    assert again["first_time_visit"] is False  # kept in first-party storage


def test_single_page_app_navigations_are_page_views(pages: Pages, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    page.goto(pages.make("app.html"))
    page.evaluate("() => history.pushState({}, '', '/app/lesson-2')")
    [view] = stored(store, "website_logs", 1, path="/app/lesson-2")
    assert view["type"] == "page_view"


def test_an_exit_link_that_navigates_away_still_lands(pages: Pages, context: BrowserContext, store: Store) -> None:
    elsewhere = f"http://localhost:{pages.port}/elsewhere.html"  # another host: an exit
    (pages.folder / "elsewhere.html").write_text("<p>elsewhere</p>")
    (pages.folder / "inside.html").write_text("<p>inside</p>")
    page = context.new_page()
    url = pages.make("links.html", body='<a id="in" href="/inside.html">in</a>')
    page.goto(url)
    page.click("#in")
    page.wait_for_url("**/inside.html")
    page.goto(url)
    page.evaluate(f"() => document.body.insertAdjacentHTML('beforeend', '<a id=\"out\" href=\"{elsewhere}\">out</a>')")
    page.click("#out")  # a link added after load, and the page is left at once
    page.wait_for_url(elsewhere)
    [link] = stored(store, "exit_links", 1)
    assert link["link_url"] == elsewhere and link["path"] == "/links.html"
    assert len(store.find("exit_links")) == 1  # the internal link was not an exit


def test_a_video_played_yields_play_progress_and_ended_at_the_right_positions(
        pages: Pages, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    page.goto(pages.make("watch/intro.html", body='<div data-foss="bash" data-tutorial="intro" data-language="English">'
                                                  '<video id="v" muted src="/tutorial.webm"></video></div>'))
    page.wait_for_function("() => document.getElementById('v').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 16; return v.play(); }")
    page.wait_for_function("() => document.getElementById('v').ended", timeout=30_000)
    [ended] = stored(store, "progress_events", 1, type="video_ended")
    [play] = stored(store, "progress_events", 1, type="video_play")
    wait_until(lambda: sum(len(p["segments"]) for p in store.find("progress_events", type="video_progress")) >= 30,
               what="every played segment to be reported")
    progress = stored(store, "progress_events", 1, type="video_progress")
    assert play["position"] < 1 and play["duration"] == 150
    played = [s for p in progress for s in p["segments"]]
    assert sorted(played) == list(range(30))  # each 5-second segment of the 150 s, reported once
    assert all(5 * min(p["segments"]) <= p["position"] for p in progress)  # reported once played, never before
    assert ended["position"] == 150 and ended["duration"] == 150
    for event in (play, ended, *progress):
        assert (event["foss"], event["tutorial"], event["language_name"]) == ("bash", "intro", "English")
        assert event["video_src"].endswith("/tutorial.webm")


def test_a_seek_reports_where_from_and_where_to(pages: Pages, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    page.goto(pages.make("watch/seek.html", body='<video id="v" muted src="/tutorial.webm" data-foss="bash"></video>'))
    page.wait_for_function("() => document.getElementById('v').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('v'); v.currentTime = 30; }")
    page.wait_for_function("() => !document.getElementById('v').seeking")
    page.evaluate("() => { document.getElementById('v').currentTime = 125; }")
    seeks = stored(store, "progress_events", 2, type="video_seek")
    assert [(s["seek_from"], s["position"]) for s in seeks] == [(0, 30), (30, 125)]
    assert seeks[1]["minute"] == 2


def test_events_wait_through_an_outage_and_a_reload_then_land_exactly_once(
        pages: Pages, collector: Collector, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    url = pages.make("course.html")
    page.goto(url)
    stored(store, "website_logs", 1, type="page_view")
    collector.stop()
    page.evaluate("() => { for (let i = 0; i < 30; i++) footfall('event', 'step', {i}); }")
    wait_until(lambda: len(queued(page)) >= 30, what="events to wait in localStorage")
    page.reload()  # a new page load while the collector is down: what is queued carries over
    wait_until(lambda: len(queued(page)) >= 31, what="the queue to carry over the reload")
    assert len(store.find("website_logs", type="custom")) == 0
    collector.start()
    page.evaluate("() => footfall('flush')")
    customs = stored(store, "website_logs", 30, type="custom")
    wait_until(lambda: not queued(page), what="the queue to empty once acknowledged")
    assert sorted(c["props"]["i"] for c in customs) == list(range(30))
    views = store.find("website_logs", type="page_view")
    assert len(views) == 2 and len({v["_id"] for v in views}) == 2


def test_ten_thousand_queued_events_stay_within_the_cap_and_the_page_stays_responsive(
        pages: Pages, collector: Collector, context: BrowserContext) -> None:
    context.add_init_script("""
        window.__writes = 0;
        const setItem = Storage.prototype.setItem;
        Storage.prototype.setItem = function (k, v) {
            if (k === 'footfall:queue') window.__writes++;
            return setItem.call(this, k, v);
        };
    """)
    page = context.new_page()
    page.goto(pages.make("busy.html"))
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    collector.stop()  # (it also serves the script, so only now)
    took = page.evaluate("""() => { const t = performance.now();
        for (let i = 0; i < 10000; i++) footfall('event', 'tick', {i, pad: 'x'.repeat(100)});
        return performance.now() - t; }""")
    page.wait_for_timeout(400)
    kept = queued(page)
    size = page.evaluate("() => localStorage.getItem('footfall:queue').length")
    writes = page.evaluate("() => window.__writes")
    print(f"10,000 events queued in {took:.0f} ms with {writes} localStorage writes; kept {len(kept)}, {size} bytes")
    assert len(kept) <= 500 and size <= 512 * 1024
    assert kept[-1]["props"]["i"] == 9999  # the oldest were dropped, not the newest
    assert writes <= 30  # not one serialisation per event: the page is not frozen by them
    assert page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(true)))")


def test_do_not_track_and_gpc_are_honoured_when_the_site_asks(
        pages: Pages, context: BrowserContext, store: Store) -> None:
    context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})")
    page = context.new_page()
    page.goto(pages.make("private.html", attrs='data-respect-dnt="true"'))
    page.goto(pages.make("public.html"))
    stored(store, "website_logs", 1, path="/public.html")
    assert store.find("website_logs", path="/private.html") == []


def test_features_can_be_turned_off_and_pings_measure_time_on_page(
        pages: Pages, context: BrowserContext, store: Store) -> None:
    page = context.new_page()
    page.goto(pages.make("quiet.html", attrs='data-disable="exit pageview" data-ping="300"',
                         body='<a id="out" href="http://localhost:1/">out</a>'))
    stored(store, "website_logs", 2, type="page_ping")
    page.click("#out", no_wait_after=True)
    page.wait_for_timeout(500)
    assert store.find("exit_links") == [] and store.find("website_logs", type="page_view") == []


def test_server_errors_are_retried_and_other_client_errors_dropped(
        pages: Pages, collector: Collector, context: BrowserContext, store: Store) -> None:
    answers = iter([503, 429])

    def flaky(route: Route) -> None:
        status = next(answers, None)
        if status is None:
            route.continue_()
        else:
            route.fulfill(status=status, body="busy")

    page = context.new_page()
    page.route(f"{collector.url}/v1/events", flaky)
    page.goto(pages.make("flaky.html"))  # no flush from the test: the tracker's own backoff retries

    def delivered() -> list[dict[str, Any]]:
        page.wait_for_timeout(50)  # route handlers run only while Playwright is called
        return store.find("website_logs", path="/flaky.html")

    [view] = wait_until(delivered, what="the page view, after a 503 and a 429")
    assert next(answers, None) is None  # both failures were answered, and retried
    page.unroute(f"{collector.url}/v1/events")
    page.route(f"{collector.url}/v1/events", lambda route: route.fulfill(status=400, body='{"error": "no"}'))
    page.evaluate("() => footfall('event', 'refused')")
    wait_until(lambda: page.wait_for_timeout(50) or not queued(page), what="a refused batch to be dropped")
    assert view["type"] == "page_view"


# --- the script itself ------------------------------------------------------------------------------------

def test_the_served_tracker_is_the_minified_source_and_small(tmp_path: Path) -> None:
    terser = ROOT / "node_modules" / ".bin" / "terser"
    assert terser.exists(), "run `npm ci` (make install does)"
    out = tmp_path / "footfall.min.js"
    subprocess.run([str(terser), str(STATIC / "footfall.js"), "--compress", "--mangle", "--ecma", "2017",
                    "--comments", "false", "-o", str(out)], check=True, cwd=ROOT)
    assert out.read_bytes() == (STATIC / "footfall.min.js").read_bytes(), "run `make tracker` and commit"
    size = len(gzip.compress((STATIC / "footfall.min.js").read_bytes(), 9))
    print(f"footfall.min.js: {size} bytes gzipped")
    assert size <= 4096
