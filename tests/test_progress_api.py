"""The progress read and write API: for the learner in the token only, and nobody else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY, ORIGIN, OTHER_SECRET, SECRET, SITES_TOML
from fastapi.testclient import TestClient

from footfall import tokens
from footfall.collector.app import create_app
from footfall.progress import folds, progress_in
from footfall.settings import Settings
from footfall.sites import Sites
from footfall.stores import Store

COURSE = '\n[[site.course]]\nfoss = "BASH"\nlanguage = "English"\ntutorials = ["intro", "loops", "arrays", "files"]\n'


@pytest.fixture
def sites_file(tmp_path: Path) -> Path:
    first_site_ends = SITES_TOML.index("[[site]]", SITES_TOML.index("[[site]]") + 1)
    path = tmp_path / "sites.toml"
    path.write_text(SITES_TOML[:first_site_ends] + COURSE + SITES_TOML[first_site_ends:])
    return path


@pytest.fixture
def client(settings: Settings, sites: Sites, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sites)) as c:
        yield c


def as_learner(user: str, secret: str = SECRET, ttl_s: int = 3600) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue(secret, user, user, ttl_s=ttl_s)}", "Origin": ORIGIN}


def watched(store: Store, user: str, tutorial: str, minutes: list[int]) -> None:
    at = datetime(2026, 5, 4, 10, tzinfo=UTC)
    events: list[dict[str, Any]] = [
        {"site": "test", "user_id": user, "foss": "BASH", "language_name": "English", "tutorial": tutorial,
         "type": "video_progress", "timestamp": at + timedelta(minutes=m), "position": m * 60.0 + 1, "minute": m,
         "segments": list(range(12 * m, 12 * m + 12)), "duration": 300.0,
         "page_view_id": "11111111-1111-4111-8111-111111111111"} for m in minutes]
    progress_in(store).fold(folds(events), threshold=0.8)


def read(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    return client.get("/v1/progress", params={"key": KEY, "foss": "BASH", "language": "English", **params},
                      headers=headers)


def test_a_learner_reads_their_course_progress_and_where_to_resume(client: TestClient, store: Store) -> None:
    watched(store, "ada", "intro", [0, 1, 2, 3, 4])
    watched(store, "ada", "loops", [0, 1])
    response = read(client, as_learner("ada"))
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == ORIGIN
    body = response.json()
    assert [t["tutorial"] for t in body["tutorials"]] == ["intro", "loops", "arrays", "files"]
    intro, loops, arrays, _ = body["tutorials"]
    assert intro["completed"] is True and intro["completed_by"] == "coverage" and intro["coverage"] == 1.0
    assert loops["completed"] is False and loops["segments_watched"] == 24 and loops["segments_total"] == 60
    assert arrays == {"tutorial": "arrays", "completed": False, "visits": 0}
    assert (body["completed"], body["tutorials_in_course"], body["course_completion_percent"]) == (1, 4, 25.0)
    assert body["resume"]["tutorial"] == "intro" and body["resume"]["position"] == 241.0
    assert body["resume"]["at"] == "2026-05-04T10:04:00.000Z"


def test_marks_are_the_learners_own(client: TestClient, store: Store) -> None:
    mark = {"foss": "BASH", "language": "English", "tutorial": "loops", "completed": True}
    response = client.post("/v1/progress/completion", params={"key": KEY}, json=mark, headers=as_learner("ada"))
    assert response.status_code == 200 and response.json()["completed_by"] == "learner"
    assert read(client, as_learner("ada")).json()["course_completion_percent"] == 25.0
    assert read(client, as_learner("grace")).json()["completed"] == 0  # another learner sees only their own
    undo = client.post("/v1/progress/completion", params={"key": KEY}, json={**mark, "completed": False},
                       headers=as_learner("ada"))
    assert undo.json()["completed"] is False and undo.json()["marked"] == "incomplete"


@pytest.mark.parametrize(("headers", "words"), [
    ({}, "no user token"),
    ({"Authorization": "Basic YWRhOmFkYQ=="}, "no user token"),
    (as_learner("ada", ttl_s=-120), "expired"),
    (as_learner("ada", secret=OTHER_SECRET), "invalid"),
    ({"Authorization": "Bearer not.a.jwt"}, "invalid"),
])
def test_missing_expired_or_forged_tokens_are_401(client: TestClient, headers: dict[str, str], words: str) -> None:
    for response in (read(client, headers),
                     client.post("/v1/progress/completion", params={"key": KEY}, headers=headers,
                                 json={"foss": "BASH", "tutorial": "intro", "completed": True})):
        assert response.status_code == 401 and words in response.json()["error"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_from_another_site_is_refused_for_this_one(client: TestClient) -> None:
    other_sites_learner = as_learner("ada", secret=OTHER_SECRET)
    assert read(client, other_sites_learner).status_code == 401
    assert client.get("/v1/progress", params={"key": "pk_other", "foss": "BASH"},
                      headers={**other_sites_learner, "Origin": "http://other.test"}).status_code == 200


def test_requests_name_the_field_that_is_wrong(client: TestClient) -> None:
    ada = as_learner("ada")
    assert read(client, ada, foss="").json()["error"].startswith("foss:")
    post = lambda body: client.post("/v1/progress/completion", params={"key": KEY}, json=body, headers=ada)  # noqa: E731
    assert post({"foss": "BASH", "tutorial": "intro"}).json()["error"].startswith("completed:")
    assert post({"foss": "BASH", "tutorial": "x" * 300, "completed": True}).json()["error"].startswith("tutorial:")
    assert post({"foss": "BASH", "tutorial": "i", "completed": True, "user_id": "grace"}).json()["error"] == \
        "user_id: unknown field"
    assert post({"foss": "BASH", "tutorial": "i", "completed": True, "page_view_id": "x"}).status_code == 400
    assert client.post("/v1/progress/completion", params={"key": KEY}, content=b"{", headers=ada).status_code == 400
    assert read(client, ada, key="pk_nope").status_code == 401
    assert read(client, {**ada, "Origin": "http://evil.test"}).status_code == 403


def test_cors_preflight_allows_the_token_header(client: TestClient) -> None:
    response = client.options("/v1/progress", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204 and "Authorization" in response.headers["access-control-allow-headers"]
