"""One suite, every store: SQLite for real, MongoDB's behaviour through mongomock, and a real MongoDB
whenever FOOTFALL_TEST_MONGODB_URI is set."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stores import VALIDATING, log_doc, make_store, store_kinds

from footfall import parts
from footfall.codec import encode
from footfall.progress import progress_in
from footfall.schemas import COLLECTIONS
from footfall.stores import DeadLetter, Store


@pytest.fixture(params=store_kinds())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    db = make_store(request.param, tmp_path)
    db.kind = request.param  # type: ignore[attr-defined]
    parts.init(db)
    yield db
    db.close()


def test_init_is_idempotent(store: Store) -> None:
    parts.init(store)
    parts.init(store)
    assert {c: store.count(c) for c in COLLECTIONS} == dict.fromkeys(COLLECTIONS, 0)


def test_documents_round_trip_with_their_event_id_and_utc_times(store: Store) -> None:
    docs = [log_doc(i, props={"course": "bash", "depth": {"n": i}}) for i in range(3)]
    result = store.insert("website_logs", docs)
    assert (result.inserted, result.duplicates, result.invalid) == (3, 0, [])
    back = store.get("website_logs", docs[1]["_id"])
    assert back == docs[1]
    assert back["timestamp"].tzinfo is not None and back["timestamp"].utcoffset().total_seconds() == 0


def test_awkward_text_and_numbers_come_back_exactly(store: Store) -> None:
    awkward = {"quote": 'a "b" \\ c', "lines": "one\ntwo\ttab", "nul": "x\u0000y", "emoji": "📺 வீடியோ",
               "big": 2**63 - 1, "small": -(2**63), "float": 0.1 + 0.2, "tiny": 5e-324, "nested": [[{"k": None}]]}
    docs = [log_doc(0, title="«Ωmega» ‘quotes’ \u2028", props=awkward), log_doc(1, latitude=-0.0, longitude=180)]
    store.insert("website_logs", docs)
    assert [store.get("website_logs", d["_id"]) for d in docs] == docs


def test_redelivered_documents_are_skipped_not_duplicated(store: Store) -> None:
    docs = [log_doc(i) for i in range(5)]
    store.insert("website_logs", docs[:3])
    result = store.insert("website_logs", docs)
    assert (result.inserted, result.duplicates) == (2, 3)
    assert store.count("website_logs") == 5


def test_a_document_the_store_refuses_does_not_stop_its_batch(store: Store) -> None:
    if store.kind not in VALIDATING:  # type: ignore[attr-defined]
        pytest.skip("mongomock applies no validators; tests/test_mongo_wire.py covers code 121 on the wire")
    bad = log_doc(1)
    del bad["site"]
    wrong_type = log_doc(2, timestamp="2026-01-01")
    result = store.insert("website_logs", [log_doc(0), bad, wrong_type, log_doc(3)])
    assert result.inserted == 2
    assert [i for i, _ in result.invalid] == [1, 2]
    assert all("validation" in reason for _, reason in result.invalid)
    assert store.get("website_logs", bad["_id"]) is None


def test_find_compares_values_as_data_never_as_operators(store: Store) -> None:
    store.insert("website_logs", [log_doc(0, user_id="42"), log_doc(1, user_id="7"), log_doc(2)])
    assert [d["_id"] for d in store.find("website_logs", user_id="42")] == [log_doc(0)["_id"]]
    assert store.find("website_logs", user_id='{"$ne": null}') == []
    assert store.find("website_logs", user_id="42' OR '1'='1") == []
    assert [d["_id"] for d in store.find("website_logs", user_id=None)] == [log_doc(2)["_id"]]
    with pytest.raises(TypeError):
        store.find("website_logs", user_id={"$ne": None})


def test_dead_letters_are_kept_once(store: Store) -> None:
    letter = DeadLetter("raw-abc", "website_logs", "undecodable: bad JSON", "{nope", datetime.now(UTC))
    store.dead_letter([letter])
    store.dead_letter([letter])
    assert store.count("dead_letters") == 1
    kept = store.get("dead_letters", "raw-abc")
    assert kept["reason"] == "undecodable: bad JSON" and kept["raw"] == "{nope"


def test_each_stream_has_its_own_collection(store: Store) -> None:
    exit_link = {**log_doc(9), "type": "exit_link", "link_url": "https://elsewhere.example/"}
    progress = {**log_doc(10), "type": "video_progress", "position": 125.0, "minute": 2, "foss": "bash"}
    assert store.insert("exit_links", [exit_link]).inserted == 1
    assert store.insert("progress_events", [progress]).inserted == 1
    assert store.count("exit_links") == store.count("progress_events") == 1
    assert store.count("website_logs") == 0


def test_queued_json_is_stored_as_the_documents_it_encodes(store: Store) -> None:
    docs = [log_doc(i) for i in range(4)]
    offset = orjson.dumps({**docs[3], "timestamp": "2026-03-01T17:30:03.000+05:30", "received_at": 1772366403005})
    raws = [encode(docs[0]), encode(docs[1]), encode(docs[2]), offset, encode(docs[1])]
    result = store.insert_json("website_logs", raws)
    assert (result.inserted, result.duplicates, result.invalid) == (4, 1, [])
    assert [store.get("website_logs", d["_id"]) for d in docs] == docs  # times in other forms, made canonical
    assert store.find("website_logs", timestamp=docs[3]["timestamp"])


def test_queued_json_that_is_no_document_is_reported_and_the_rest_stored(store: Store) -> None:
    no_site = log_doc(2)
    del no_site["site"]
    raws = [encode(log_doc(0)), b"{not json", b"[1, 2]", encode(no_site), encode(log_doc(4))]
    result = store.insert_json("website_logs", raws)
    reasons = dict(result.invalid)
    assert reasons[1].startswith("undecodable") and reasons[2].startswith("undecodable")
    if store.kind in VALIDATING:  # type: ignore[attr-defined]
        assert sorted(reasons) == [1, 2, 3] and reasons[3].startswith("document failed validation: site")
    assert store.get("website_logs", log_doc(4)["_id"]) is not None


def test_sqlite_documents_are_queryable_with_json_functions(tmp_path: Path) -> None:
    from footfall.stores.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "q.db"))
    store.init()
    store.insert("website_logs", [log_doc(i, user_id=str(i % 2)) for i in range(4)])
    rows = store.db.execute("SELECT typeof(doc), json_extract(doc, '$.path') FROM website_logs "
                            "WHERE json_extract(doc, '$.user_id') = '1' ORDER BY json_extract(doc, '$.timestamp')")
    assert rows.fetchall() == [("text", "/page/1"), ("text", "/page/3")]
    plan = store.db.execute("EXPLAIN QUERY PLAN SELECT doc FROM website_logs WHERE json_extract(doc, '$.site') = 'test'"
                            " AND json_extract(doc, '$.timestamp') > '2026'").fetchall()
    assert "website_logs_site_time" in str(plan)


# --- tutorial progress -------------------------------------------------------------------------------------

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
VISIT_1, VISIT_2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def video(kind: str, seconds: float, position: float, visit: str = VISIT_1, tutorial: str = "intro",
          user: str = "42", foss: str = "BASH", **extra: object) -> dict[str, object]:
    return {"site": "test", "user_id": user, "foss": foss, "language_name": "English", "tutorial": tutorial,
            "type": kind, "timestamp": T0 + timedelta(seconds=seconds), "position": position, "duration": 300.0,
            "minute": int(position // 60), "page_view_id": visit, **extra}


def watch_minutes(minutes: list[int], visit: str = VISIT_1, start: float = 0, **kw: object) -> list[dict[str, object]]:
    """Play each minute whole: a progress event reporting its twelve 5-second segments as played."""
    events = [video("video_play", start, minutes[0] * 60.0, visit, **kw)]
    events += [video("video_progress", start + 60 * i + 1, m * 60.0 + 0.5, visit,
                     segments=list(range(12 * m, 12 * m + 12)), **kw) for i, m in enumerate(minutes)]
    return events


def fold(store: Store, events: list[dict[str, object]]) -> None:
    from footfall.progress import folds

    progress_in(store).fold(folds(events), threshold=0.8)


def view(store: Store, tutorial: str = "intro", user: str = "42", foss: str = "BASH") -> dict[str, object]:
    from footfall.progress import tutorial_view

    docs, _ = progress_in(store).read("test", user, foss, "English")
    [doc] = [d for d in docs if d["tutorial"] == tutorial]
    return tutorial_view(doc, 0.8)


def test_watching_most_of_the_minutes_completes_a_tutorial(store: Store) -> None:
    fold(store, watch_minutes([0, 1, 2]))
    assert view(store)["completed"] is False and view(store)["coverage"] == 0.6
    fold(store, watch_minutes([3], start=200))
    progress = view(store)
    assert progress["completed"] is True and progress["completed_by"] == "coverage"
    assert progress["completed_at"] == T0 + timedelta(seconds=201)  # the 4th minute entered: 80 % of 5
    assert (progress["segments_watched"], progress["segments_total"], progress["visits"]) == (48, 60, 1)


def test_seeking_to_the_end_does_not_complete_a_tutorial(store: Store) -> None:
    fold(store, [video("video_play", 0, 0), video("video_progress", 1, 0.5, segments=[0]),
                 video("video_seek", 5, 295, seek_from=4.0), video("video_ended", 10, 300)])
    progress = view(store)
    assert progress["completed"] is False and progress["segments_watched"] == 1
    assert progress["last_position"] == 300


def test_folds_read_times_as_datetimes_or_text_in_any_offset() -> None:
    from footfall.codec import format_datetime
    from footfall.progress import folds, resume_points

    def facts(events: list[dict[str, object]]) -> list[object]:
        tutorials = folds(events)
        return [(f.names, f.segments, f.visits, f.last, f.first_at, f.last_at) for f in tutorials] + [
            resume_points(tutorials)]

    as_datetimes = watch_minutes([0, 1, 2])
    as_queued = [{**e, "timestamp": format_datetime(e["timestamp"])} for e in as_datetimes]  # type: ignore[arg-type]
    in_paris = [{**e, "timestamp": e["timestamp"].astimezone(timezone(timedelta(hours=2))).isoformat()}  # type: ignore[attr-defined]
                for e in as_datetimes]
    assert facts(as_queued) == facts(as_datetimes) == facts(in_paris)
    assert facts(as_queued)[0][4] == "2026-05-04T10:00:00.000Z"


def test_folding_the_same_batch_twice_changes_nothing(store: Store) -> None:
    batch = watch_minutes([0, 1, 2, 3])
    fold(store, batch)
    first = progress_in(store).read("test", "42", "BASH", "English")
    fold(store, batch)
    assert progress_in(store).read("test", "42", "BASH", "English") == first
    assert view(store)["visits"] == 1


def progress_facts(store: Store, users: Iterable[str]) -> list[object]:
    """What a fold is meant to decide, whatever order the events came in: the facts as sets, and the view."""
    from footfall.progress import tutorial_view

    facts: list[object] = []
    for user in users:
        docs, resume = progress_in(store).read("test", user, "BASH", "English")
        for doc in sorted(docs, key=lambda d: d["tutorial"]):
            facts.append((tutorial_view(doc, 0.8), sorted(doc.get("segments", {}).items()),
                          sorted(doc["visits"]), doc["last"]))
        facts.append(resume and resume["last"])
    return facts


video_events = st.builds(
    video, kind=st.sampled_from(["video_play", "video_progress", "video_pause", "video_seek"]),
    seconds=st.sampled_from([0, 60, 61, 300]), position=st.sampled_from([0.5, 61.0, 130.0, 250.0]),
    segments=st.lists(st.sampled_from([0, 1, 12, 59, 60, 7199, 7200, -1]), max_size=3),
    visit=st.sampled_from([VISIT_1, VISIT_2]), tutorial=st.sampled_from(["intro", "next"]), user=st.sampled_from("12"))


@pytest.mark.parametrize("kind", [k for k in store_kinds() if k != "mongodb"])  # each example makes two stores
@settings(max_examples=40, deadline=None)
@given(events=st.lists(video_events, min_size=1, max_size=12), data=st.data())
def test_folds_agree_whatever_the_order_batching_and_redelivery(kind: str, events: list[dict[str, object]],
                                                                 data: st.DataObject) -> None:
    """Ties included: equal times with different positions, visits or tutorials."""
    shuffled = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=4))))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(shuffled)), max_size=3)))
    with tempfile.TemporaryDirectory() as once_dir, tempfile.TemporaryDirectory() as any_dir:
        once, any_way = make_store(kind, Path(once_dir)), make_store(kind, Path(any_dir))
        try:
            parts.init(once)
            parts.init(any_way)
            fold(once, events)
            for start, end in zip([0, *cuts], [*cuts, len(shuffled)], strict=True):
                fold(any_way, shuffled[start:end])
            assert progress_facts(any_way, "12") == progress_facts(once, "12")
        finally:
            once.close()
            any_way.close()


def test_sqlite_copies_its_log_into_the_database_off_the_write_path(tmp_path: Path) -> None:
    import sqlite3

    from conftest import wait_until

    from footfall.stores.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "store.db"))
    store.init()
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 20000  # far off: only a backstop
    store.insert("website_logs", [log_doc(i) for i in range(3)])

    def in_the_database_file() -> int:  # immutable: the file as it is, without the log
        db = sqlite3.connect(f"file:{tmp_path / 'store.db'}?immutable=1", uri=True)
        try:
            return db.execute("SELECT count(*) FROM website_logs").fetchone()[0]
        except sqlite3.DatabaseError:  # not even the table yet, or caught mid-copy (immutable skips locks): again
            return 0
        finally:
            db.close()

    wait_until(lambda: in_the_database_file() == 3, timeout=5, what="the checkpoint to copy the log")
    store.close()
    assert store.checkpointer is not None and not store.checkpointer.thread.is_alive()


# The embedded store's progress tables before they were keyed by the learner's identity.
HASHED_ID_LAYOUT = """
CREATE TABLE tutorial_progress (_id TEXT PRIMARY KEY, site TEXT, user_id TEXT, foss TEXT, language TEXT, doc TEXT);
CREATE INDEX tutorial_progress_learner ON tutorial_progress (site, user_id, foss, language);
CREATE TABLE resume_points (_id TEXT PRIMARY KEY, site TEXT, user_id TEXT, foss TEXT, language TEXT, doc TEXT);
CREATE INDEX resume_points_learner ON resume_points (site, user_id, foss, language);
"""


@pytest.mark.parametrize("resume_columns", [False, True], ids=["resume-as-documents", "resume-with-columns"])
def test_sqlite_progress_kept_under_hashed_ids_is_migrated(tmp_path: Path, resume_columns: bool) -> None:
    import sqlite3

    from footfall.progress import key
    from footfall.stores.sqlite import SQLiteStore

    made = SQLiteStore(str(tmp_path / "new.db"))  # the facts folded have kept their shape
    parts.init(made)
    fold(made, [*watch_minutes([0, 1, 2, 3]), video("video_pause", 300, 250.0)])
    [facts] = [orjson.loads(row[0]) for row in made.db.execute("SELECT doc FROM tutorial_progress")]
    made.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.executescript(HASHED_ID_LAYOUT)
    learner = ("test", "42", "BASH", "English")
    identity = {"site": "test", "user_id": "42", "foss": "BASH", "language": "English"}
    doc = {"_id": key(*learner, "intro"), **identity, "tutorial": "intro", **facts}  # the whole document, then
    old.execute("INSERT INTO tutorial_progress VALUES (?, ?, ?, ?, ?, ?)", (doc["_id"], *learner, encode(doc).decode()))
    point = {"_id": key(*learner), **identity,
             "last": {"at": "2026-05-04T10:05:00.000Z", "tutorial": "intro", "position": 250.0}}
    columns = ", last_at, last_position" if resume_columns else ""
    if resume_columns:
        old.execute("ALTER TABLE resume_points ADD COLUMN last_at TEXT")
        old.execute("ALTER TABLE resume_points ADD COLUMN last_position REAL")
    values = (point["_id"], *learner, encode(point).decode(), *(["2026-05-04T10:05:00.000Z", 250.0] * resume_columns))
    old.execute(f"INSERT INTO resume_points (_id, site, user_id, foss, language, doc{columns}) "
                f"VALUES ({', '.join('?' * len(values))})", values)
    old.commit()
    old.close()

    store, other = SQLiteStore(str(tmp_path / "old.db")), SQLiteStore(str(tmp_path / "old.db"))
    with ThreadPoolExecutor(2) as pool:  # two drainers starting at once: one migrates, the other finds it done
        list(pool.map(parts.init, [store, other]))
    other.close()
    assert progress_in(store).read(*learner)[1] == {**identity, "last": {**point["last"], "at": T0.replace(minute=5)}}
    [migrated] = store.db.execute("SELECT doc FROM tutorial_progress").fetchone()
    assert orjson.loads(migrated) == facts  # who and which tutorial are columns now
    assert (view(store)["segments_watched"], view(store)["last_position"]) == (48, 250.0)
    fold(store, [video("video_progress", 50, 61.0, tutorial="older")])  # earlier: must not win
    assert progress_in(store).read(*learner)[1]["last"]["position"] == 250.0
    fold(store, watch_minutes([4], start=400))  # the migrated row is found again, not doubled
    assert store.count("tutorial_progress") == 2 and view(store)["segments_watched"] == 60
    assert progress_in(store).read(*learner)[1]["last"]["tutorial"] == "intro"
    assert progress_in(store).read(*learner)[1]["last"]["position"] == 240.5


def test_late_events_never_move_the_last_position_backwards(store: Store) -> None:
    fold(store, [video("video_pause", 100, 250.0)])
    fold(store, [video("video_progress", 50, 61.0), video("video_play", 10, 0.0)])
    progress = view(store)
    assert progress["last_position"] == 250.0 and progress["last_position_at"] == T0.replace(minute=1, second=40)
    assert progress["first_watched_at"] == T0.replace(second=10)
    _, resume = progress_in(store).read("test", "42", "BASH", "English")
    assert resume is not None and resume["last"]["position"] == 250.0


def test_mark_incomplete_holds_until_marked_complete_or_a_new_visit(store: Store) -> None:
    fold(store, watch_minutes([0, 1, 2, 3, 4]))
    assert view(store)["completed"] is True
    identity = {"site": "test", "user_id": "42", "foss": "BASH", "language": "English", "tutorial": "intro"}
    progress_in(store).mark(identity, "incomplete", T0.replace(minute=10), VISIT_1, 0.8)
    assert view(store)["completed"] is False and view(store)["marked"] == "incomplete"
    fold(store, [video("video_progress", 700, 200.0)])  # more of the same visit: still incomplete
    assert view(store)["completed"] is False
    fold(store, [video("video_play", 800, 0.0, VISIT_2)])  # a new visit: the coverage rule is back
    assert view(store)["completed"] is True
    progress_in(store).mark(identity, "incomplete", T0.replace(minute=20), VISIT_2, 0.8)
    progress_in(store).mark(identity, "complete", T0.replace(minute=21), VISIT_2, 0.8)
    assert view(store)["completed"] is True and view(store)["completed_by"] == "learner"


def test_a_mark_on_an_untouched_tutorial_is_kept(store: Store) -> None:
    identity = {"site": "test", "user_id": "42", "foss": "BASH", "language": "English", "tutorial": "later"}
    progress_in(store).mark(identity, "complete", T0, VISIT_1, 0.8)
    assert view(store, "later")["completed"] is True


def test_identifiers_are_values_never_paths(store: Store) -> None:
    odd = {"tutorial": "a.b.$set", "user": "$where", "foss": "x.y"}
    fold(store, watch_minutes([0], **odd))
    docs, resume = progress_in(store).read("test", "$where", "x.y", "English")
    assert [d["tutorial"] for d in docs] == ["a.b.$set"] and resume is not None
    assert progress_in(store).read("test", "42", "x.y", "English") == ([], None)


def test_learners_and_courses_are_kept_apart(store: Store) -> None:
    fold(store, watch_minutes([0, 1, 2, 3, 4]) + watch_minutes([0], user="7") + watch_minutes([0], foss="Python"))
    assert view(store)["completed"] is True
    assert view(store, user="7")["completed"] is False
    assert view(store, foss="Python")["segments_watched"] == 12


def test_prune_and_forget(store: Store) -> None:
    old = datetime(2025, 1, 1, tzinfo=UTC)  # log_doc's events are received in March 2026
    store.insert("website_logs", [log_doc(0, received_at=old, user_id="42"), log_doc(1, user_id="42"),
                                  log_doc(2, user_id="7")])
    assert store.prune(datetime(2026, 1, 1, tzinfo=UTC))["website_logs"] == 1
    fold(store, watch_minutes([0], user="42"))
    deleted = parts.forget(store, "42")
    assert deleted["website_logs"] == 1 and deleted["tutorial_progress"] == 1
    assert [d["user_id"] for d in store.find("website_logs")] == ["7"]
    assert parts.forget(store, "42", site="elsewhere")["website_logs"] == 0


def test_forget_erases_a_users_dead_letters_too(store: Store) -> None:
    from footfall.codec import encode

    mine = encode(log_doc(0, user_id="42", site="test", path=7)).decode()  # refused: a path must be text
    theirs = encode(log_doc(1, user_id="420", site="test", path=7)).decode()
    elsewhere = encode(log_doc(2, user_id="42", site="other", path=7)).decode()
    store.dead_letter([DeadLetter(f"l{i}", "website_logs", "document failed validation", raw, datetime.now(UTC))
                       for i, raw in enumerate([mine, theirs, elsewhere, "{not json"])])
    assert parts.forget(store, "42", site="test")["dead_letters"] == 1
    assert sorted(d["_id"] for d in store.find("dead_letters")) == ["l1", "l2", "l3"]
    assert parts.forget(store, "42")["dead_letters"] == 1
    assert sorted(d["_id"] for d in store.find("dead_letters")) == ["l1", "l3"]


def test_sqlite_erasure_leaves_no_byte_of_the_user_in_the_file_or_its_log(tmp_path: Path) -> None:
    from footfall.codec import encode
    from footfall.stores.sqlite import SQLiteStore

    user = "erase-me-0123456789"
    path = tmp_path / "erasure.db"
    store = SQLiteStore(str(path))
    parts.init(store)
    store.insert("website_logs", [log_doc(i, user_id=user if i % 2 else "7") for i in range(200)])
    fold(store, watch_minutes([0, 1], user=user))
    bad = encode(log_doc(999, user_id=user, path=7)).decode()
    store.dead_letter([DeadLetter("l0", "website_logs", "document failed validation", bad, datetime.now(UTC))])
    store.checkpointer.close()  # the test decides when the log is copied: before erasure, part of it
    store.checkpointer = None
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert user.encode() in path.read_bytes()
    parts.forget(store, user)
    assert store.count("website_logs") == 100
    wal = Path(f"{path}-wal")
    for image in (path.read_bytes(), wal.read_bytes() if wal.exists() else b""):
        assert user.encode() not in image
    store.close()


def test_coverage_counts_played_five_second_segments(store: Store) -> None:
    """Played 0–20 s and 140–150 s of a 150 s video: segments 0–3 and 28–29, 6 of 30 = 20 %."""
    fold(store, [video("video_progress", 20, 20.0, duration=150.0, segments=[0, 1, 2, 3]),
                 video("video_progress", 160, 150.0, duration=150.0, segments=[28, 29])])
    progress = view(store)
    assert (progress["segments_watched"], progress["segments_total"], progress["coverage"]) == (6, 30, 0.2)
    assert progress["watched_seconds"] == 30.0 and progress["completed"] is False


def test_segments_past_ten_hours_or_not_whole_numbers_credit_nothing(store: Store) -> None:
    fold(store, [video("video_progress", 1, 1.0, segments=[7200, -1, 1.5, "2", True, None, [3]])])
    assert view(store)["segments_watched"] == 0


def test_a_progress_document_stays_bounded_whatever_one_learner_sends(store: Store) -> None:
    """120 batches of 1,000 events from one learner, every segment and a new page view each time."""
    for batch in range(120):
        fold(store, [video("video_progress", batch * 1000 + i, 1.0, visit=str(uuid.UUID(int=batch * 1000 + i)),
                           segments=[(batch * 1000 + i) % 7300]) for i in range(1000)])
    [doc] = progress_in(store).read("test", "42", "BASH", "English")[0]
    assert len(doc["visits"]) == 1000 and doc["visits"] == sorted(doc["visits"])[:1000]
    assert doc["visits"][0] == str(uuid.UUID(int=0))  # the first page views are the ones kept
    assert len(doc["segments"]) == 7200 and view(store)["visits"] == 1000
    assert len(orjson.dumps(doc, default=str)) < 600_000


def test_documents_from_the_minute_rule_keep_their_credit(store: Store) -> None:
    """Before segments, a document held (minute, at) pairs: each minute counts as its twelve segments."""
    from footfall.progress.fold import derive

    old = {"watched": [{"minute": m, "at": f"2026-05-04T10:0{m}:00.000Z"} for m in (0, 1, 2, 3)],
           "visits": [VISIT_1], "duration": 300.0}
    assert derive(old, 0.8)["segments_watched"] == 48 and derive(old, 0.8)["completed"] is True
    assert derive(old, 0.8)["completed_at"] == "2026-05-04T10:03:00.000Z"


def test_documents_stream_in_time_order_within_a_window(store: Store) -> None:
    from footfall.edx.events import normalise

    def edx(minute: int, course: str) -> dict[str, object]:
        line = orjson.dumps({"time": f"2026-03-02T10:{minute:02d}:00Z", "event_type": "play_video",
                             "context": {"course_id": course}})
        return normalise(line, site="edx", received_at=T0)

    store.insert("edx_events", [edx(m, "A/B/C") for m in (30, 10, 50, 20)] + [edx(15, "X/Y/Z")])
    since, until = datetime(2026, 3, 2, 10, 10, tzinfo=UTC), datetime(2026, 3, 2, 10, 50, tzinfo=UTC)
    found = list(store.in_time_order("edx_events", since, until, course_id="A/B/C"))
    assert [d["timestamp"].minute for d in found] == [10, 20, 30]  # the end of the window is excluded
    assert len(list(store.in_time_order("edx_events", course_id="A/B/C"))) == 4
