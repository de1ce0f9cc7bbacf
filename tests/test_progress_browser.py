"""Tutorial progress end to end, in real headless Chromium: a logged-in learner's video events travel
through the collector, Redis and the drainer's fold, and the page reads its progress back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import Collector, Pages
from conftest import wait_until
from playwright.sync_api import BrowserContext, Page
from redis import Redis

from footfall import keys, tokens
from footfall.codec import encode
from footfall.stores import Store

SECRET = "sk_browser_0123456789abcdef0123456789abcdef"
COURSE = {"foss": "BASH", "language": "English"}


@pytest.fixture
def sites_file(tmp_path: Path, page_port: int) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(f'[[site]]\nid = "tutorials"\npublic_key = "pk_browser"\nsecret = "{SECRET}"\n'
                    f'origins = ["http://127.0.0.1:{page_port}"]\n\n'
                    f'[[site.course]]\nfoss = "BASH"\nlanguage = "English"\ntutorials = ["intro", "loops"]\n')
    return path


def tutorial_page(pages: Pages, learner: str, name: str = "intro") -> str:
    token = tokens.issue(SECRET, learner, learner)
    return pages.make(f"watch/{learner}/{name}.html", attrs=f'data-user-token="{token}"', body=(
        f'<div data-foss="BASH" data-tutorial="{name}" data-language="English">'
        '<video id="v" muted src="/tutorial.webm"></video></div>'))


def open_video(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.footfall && window.footfall.loaded"
                           " && document.getElementById('v').readyState >= 1")


def progress(page: Page) -> dict[str, Any]:
    return page.evaluate(f"() => footfall('progress', {COURSE})")


def intro(page: Page) -> dict[str, Any]:
    return next(t for t in progress(page)["tutorials"] if t["tutorial"] == "intro")


def test_watching_the_video_completes_it_and_seeking_to_the_end_does_not(
        pages: Pages, context: BrowserContext) -> None:
    ada = context.new_page()
    open_video(ada, tutorial_page(pages, "ada"))
    ada.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 16; return v.play(); }")
    ada.wait_for_function("() => document.getElementById('v').ended", timeout=30_000)
    done = wait_until(lambda: intro(ada)["coverage"] == 1.0, what="every segment of ada's video to be folded")
    assert intro(ada)["completed"] is True and intro(ada)["completed_by"] == "coverage"
    assert progress(ada)["course_completion_percent"] == 50.0 and done

    grace = context.new_page()
    open_video(grace, tutorial_page(pages, "grace"))
    grace.evaluate("() => { const v = document.getElementById('v'); v.play(); v.currentTime = 148; }")
    grace.wait_for_function("() => document.getElementById('v').ended", timeout=30_000)
    wait_until(lambda: intro(grace)["last_position"] == 150, what="grace's events to be folded")
    assert intro(grace)["completed"] is False and intro(grace)["segments_watched"] <= 2  # 0–0.x s and 148–150 s
    assert intro(ada)["completed"] is True  # and each learner sees only their own


def test_mark_incomplete_then_reload_stays_incomplete_and_resume_is_where_playback_stopped(
        pages: Pages, context: BrowserContext) -> None:
    page = context.new_page()
    url = tutorial_page(pages, "ada")
    open_video(page, url)
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 16; return v.play(); }")
    page.wait_for_function("() => document.getElementById('v').ended", timeout=30_000)
    wait_until(lambda: intro(page)["completed"], what="the tutorial to complete")
    marked = page.evaluate(f"() => footfall('mark', {{...{COURSE}, tutorial: 'intro'}}, false)")
    assert marked["completed"] is False and marked["marked"] == "incomplete"
    page.reload()
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    assert intro(page)["completed"] is False

    page.evaluate("() => { const v = document.getElementById('v'); v.currentTime = 70; }")
    page.wait_for_function("() => !document.getElementById('v').seeking")
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 4; return v.play(); }")
    page.wait_for_function("() => document.getElementById('v').currentTime > 80")
    stopped = page.evaluate("() => { const v = document.getElementById('v'); v.pause(); return v.currentTime; }")
    resume = wait_until(lambda: (r := progress(page)["resume"]) and abs(r["position"] - stopped) < 0.01 and r,
                        what="the resume point to be where playback stopped")
    assert resume["tutorial"] == "intro"
    assert intro(page)["completed"] is True  # this visit is new, and the minutes were watched before


def test_forged_and_other_learners_tokens_are_refused(pages: Pages, collector: Collector,
                                                      context: BrowserContext) -> None:
    page = context.new_page()
    open_video(page, tutorial_page(pages, "ada"))
    forged = tokens.issue("a-secret-that-is-not-this-sites-0123456789", "ada", "ada")
    status = page.evaluate(f"""() => fetch('{collector.url}/v1/progress?key=pk_browser&foss=BASH&language=English',
        {{headers: {{Authorization: 'Bearer {forged}'}}}}).then(r => r.status)""")
    assert status == 401
    graces_token = tokens.issue(SECRET, "grace", "grace")
    marked = page.evaluate(f"""() => fetch('{collector.url}/v1/progress/completion?key=pk_browser', {{method: 'POST',
        headers: {{Authorization: 'Bearer {graces_token}', 'Content-Type': 'application/json'}},
        body: JSON.stringify({{foss: 'BASH', language: 'English', tutorial: 'intro', completed: true,
                               user_id: 'ada'}})}}).then(r => r.status)""")
    assert marked == 400  # no request can name a learner: the token does
    assert intro(page).get("completed") is False


def test_redelivering_the_same_batch_twice_changes_nothing(
        pages: Pages, context: BrowserContext, store: Store, redis: Redis) -> None:
    page = context.new_page()
    open_video(page, tutorial_page(pages, "ada"))
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 16; return v.play(); }")
    page.wait_for_function("() => document.getElementById('v').currentTime > 90", timeout=30_000)
    page.evaluate("() => document.getElementById('v').pause()")
    wait_until(lambda: intro(page)["segments_watched"] >= 18, what="90 s of segments to be folded")
    page.wait_for_timeout(500)
    before = progress(page)
    raw = store.find("progress_events", user_id="ada")
    for _ in range(2):
        redis.lpush(keys.queue("tutorial_progress"), *[encode(e) for e in raw])
    wait_until(lambda: int(redis.hget(keys.STATS, "duplicates:tutorial_progress") or 0) == 2 * len(raw),
               what="both redeliveries to be drained")
    assert progress(page) == before


def test_seeking_without_playing_credits_nothing(pages: Pages, context: BrowserContext, store: Store) -> None:
    """The report that found the bug: currentTime set to 5, 70, then 130, never played."""
    page = context.new_page()
    open_video(page, tutorial_page(pages, "ada"))
    for position in (5, 70, 130):
        page.evaluate(f"() => {{ document.getElementById('v').currentTime = {position}; }}")
        page.wait_for_function(f"() => !document.getElementById('v').seeking"
                               f" && document.getElementById('v').currentTime === {position}")
    page.evaluate("() => footfall('flush')")
    wait_until(lambda: len(store.find("progress_events", user_id="ada", type="video_seek")) == 3,
               what="the three seeks to be stored")
    assert page.evaluate("() => document.getElementById('v').played.length") == 0
    assert store.find("progress_events", user_id="ada", type="video_progress") == []
    assert intro(page)["segments_watched"] == 0 and intro(page)["completed"] is False


def test_coverage_is_exactly_the_segments_played_around_pauses_and_seeks(
        pages: Pages, context: BrowserContext) -> None:
    """Play 0 to about 18 s, pause, seek to 140, play to the end: segments 0–3 and 28–29, 6 of 30."""
    page = context.new_page()
    open_video(page, tutorial_page(pages, "ada"))
    page.evaluate("""() => { const v = document.getElementById('v');
        v.addEventListener('timeupdate', function stop() {
            if (v.currentTime >= 17) { v.pause(); v.removeEventListener('timeupdate', stop); } });
        v.playbackRate = 4; return v.play(); }""")
    page.wait_for_function("() => document.getElementById('v').paused")
    assert 17 <= page.evaluate("() => document.getElementById('v').currentTime") < 20
    page.evaluate("() => { document.getElementById('v').currentTime = 140; }")
    page.wait_for_function("() => !document.getElementById('v').seeking")
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 4; return v.play(); }")
    page.wait_for_function("() => document.getElementById('v').ended", timeout=30_000)
    tutorial = wait_until(lambda: (t := intro(page))["segments_watched"] == 6 and t, what="six segments folded")
    assert (tutorial["segments_total"], tutorial["coverage"], tutorial["completed"]) == (30, 0.2, False)
    assert tutorial["watched_seconds"] == 30.0
