"""One suite, every store: SQLite for real, MongoDB's behaviour through mongomock, and a real MongoDB
whenever FOOTFALL_TEST_MONGODB_URI is set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from stores import VALIDATING, log_doc, make_store, store_kinds

from footfall.schemas import COLLECTIONS
from footfall.stores import DeadLetter, Store


@pytest.fixture(params=store_kinds())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    db = make_store(request.param, tmp_path)
    db.kind = request.param  # type: ignore[attr-defined]
    db.init()
    yield db
    db.close()


def test_init_is_idempotent(store: Store) -> None:
    store.init()
    store.init()
    assert {c: store.count(c) for c in COLLECTIONS} == dict.fromkeys(COLLECTIONS, 0)


def test_documents_round_trip_with_their_event_id_and_utc_times(store: Store) -> None:
    docs = [log_doc(i, props={"course": "bash", "depth": {"n": i}}) for i in range(3)]
    result = store.insert("website_logs", docs)
    assert (result.inserted, result.duplicates, result.invalid) == (3, 0, [])
    back = store.get("website_logs", docs[1]["_id"])
    assert back == docs[1]
    assert back["timestamp"].tzinfo is not None and back["timestamp"].utcoffset().total_seconds() == 0


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


def test_encoded_documents_are_stored_as_the_documents_themselves(store: Store) -> None:
    from footfall.schemas import encode

    docs = [log_doc(i) for i in range(3)]
    store.insert("website_logs", docs, [encode(docs[0]), None, encode(docs[2])])
    assert [store.get("website_logs", d["_id"]) for d in docs] == docs


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
