"""The exact commands the MongoDB store sends, checked on the wire against mockupdb."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mockupdb import MockupDB, OpMsg, go
from stores import log_doc

from footfall import parts
from footfall.generated_schemas import mongo_validator
from footfall.progress import PROGRESS_COLLECTIONS, progress_in
from footfall.progress.mongo import COLLECTIONS as PROGRESS_SPECS
from footfall.schemas import BY_COLLECTION, RAW_AGE, STREAMS
from footfall.stores import StoreUnavailable
from footfall.stores.mongo import MongoStore, raw_collections

COLLECTIONS = [*raw_collections(), *PROGRESS_SPECS]  # raw first, then each part's (footfall.parts.init)


def next_command(server: MockupDB, existing: list[str] | None = None) -> Any:
    """The next request on the wire, answering the listCollections that starts each group of collections
    (the raw ones, then each part's)."""
    request = server.receives()
    if command(request) == "listCollections":
        batch = [{"name": c, "type": "collection"} for c in existing or []]
        request.ok(cursor={"id": 0, "ns": "footfall.$cmd", "firstBatch": batch})
        request = server.receives()
    return request


@pytest.fixture
def server() -> Iterator[MockupDB]:
    mock = MockupDB(auto_ismaster={"maxWireVersion": 21, "minWireVersion": 0})
    mock.run()
    yield mock
    mock.stop()


@pytest.fixture
def store(server: MockupDB) -> Iterator[MongoStore]:
    db = MongoStore(f"{server.uri}/footfall", timeout_ms=2000)
    yield db
    db.client.close()


def command(request: Any) -> str:
    return next(iter(request.doc))


def expect(server: MockupDB, name: str) -> Any:
    request = server.receives()
    assert command(request) == name, request
    return request


def answer_no_indexes(server: MockupDB) -> None:
    listing = expect(server, "listIndexes")
    listing.ok(cursor={"id": 0, "ns": f"footfall.{listing.doc['listIndexes']}", "firstBatch": []})


def test_a_retention_period_is_a_ttl_index_on_each_raw_collection(server: MockupDB) -> None:
    store = MongoStore(f"{server.uri}/footfall", timeout_ms=2000, retention_days=30)
    future = go(parts.init, store)
    ttl = {}
    for _ in COLLECTIONS:
        create = next_command(server)
        create.ok()
        expect(server, "createIndexes").ok()
        if create.doc["create"] in RAW_AGE:
            answer_no_indexes(server)
            index = expect(server, "createIndexes")
            [spec] = index.doc["indexes"]
            ttl[create.doc["create"]] = (dict(spec["key"]), spec["expireAfterSeconds"], spec["name"])
            index.ok()
    future()
    store.client.close()
    assert ttl["website_logs"] == ({"received_at": 1}, 30 * 86_400, "retention")
    assert ttl["dead_letters"] == ({"failed_at": 1}, 30 * 86_400, "retention")
    assert set(ttl) == set(RAW_AGE)


def test_init_creates_each_collection_with_its_generated_validator_and_indexes(
        server: MockupDB, store: MongoStore) -> None:
    future = go(parts.init, store)
    created = {}
    for _ in COLLECTIONS:
        create = next_command(server)
        assert command(create) == "create"
        assert create.doc["validationLevel"] == "strict" and create.doc["validationAction"] == "error"
        created[create.doc["create"]] = create.doc["validator"]
        create.ok()
        indexes = server.receives()
        assert command(indexes) == "createIndexes" and indexes.doc["createIndexes"] == create.doc["create"]
        names = {ix["name"]: dict(ix["key"]) for ix in indexes.doc["indexes"]}
        if create.doc["create"] == "dead_letters":
            assert names == {"failed_at": {"failed_at": 1}}
        elif create.doc["create"] in PROGRESS_COLLECTIONS:
            assert list(names) == ["learner"]
        elif create.doc["create"] not in RAW_AGE:  # reference data (the import ledger, course blocks)
            declared = raw_collections()[create.doc["create"]].indexes
            assert names == {ix.document["name"]: dict(ix.document["key"]) for ix in declared}
        else:  # the common look-ups, and what the schemas declare an analyst looks up by (edX's course + time)
            extra = {"_".join(f): dict.fromkeys(f, 1) for f in BY_COLLECTION[create.doc["create"]].indexes}
            assert names == {"timestamp": {"timestamp": 1}, "site_time": {"site": 1, "timestamp": 1},
                             "user": {"user_id": 1}, "event_name": {"event_name": 1}, **extra}
        indexes.ok()
        if create.doc["create"] in RAW_AGE:
            answer_no_indexes(server)
    future()
    assert set(created) == set(COLLECTIONS)
    for stream in STREAMS.values():
        assert created[stream.collection] == mongo_validator(stream)


def test_init_again_updates_validators_in_place(server: MockupDB, store: MongoStore) -> None:
    future = go(parts.init, store)
    for _ in COLLECTIONS:
        mod = next_command(server, COLLECTIONS)
        assert command(mod) == "collMod" and "validator" in mod.doc
        mod.ok()
        indexes = server.receives()
        assert command(indexes) == "createIndexes"
        indexes.ok()
        if mod.doc["collMod"] in RAW_AGE:
            answer_no_indexes(server)
    future()


def test_batches_are_unordered_inserts_with_majority_write_concern(server: MockupDB, store: MongoStore) -> None:
    docs = [log_doc(i) for i in range(3)]
    future = go(store.insert, "website_logs", docs)
    insert = server.receives(OpMsg("insert", "website_logs"))
    assert insert.doc["insert"] == "website_logs"
    assert insert.doc["ordered"] is False
    assert insert.doc["writeConcern"] == {"w": "majority"}
    assert [d["_id"] for d in insert.doc["documents"]] == [d["_id"] for d in docs]
    insert.ok(n=3)
    assert future().inserted == 3


def test_duplicate_key_is_a_skip_and_validation_failure_is_a_dead_letter(
        server: MockupDB, store: MongoStore) -> None:
    future = go(store.insert, "website_logs", [log_doc(i) for i in range(4)])
    server.receives(OpMsg("insert", "website_logs")).ok(n=2, writeErrors=[
        {"index": 1, "code": 11000, "errmsg": "E11000 duplicate key error"},
        {"index": 3, "code": 121, "errmsg": "Document failed validation",
         "errInfo": {"details": {"operatorName": "$jsonSchema"}}},
    ])
    result = future()
    assert (result.inserted, result.duplicates) == (2, 1)
    assert [i for i, _ in result.invalid] == [3]
    assert "validation" in result.invalid[0][1]


@pytest.mark.parametrize("reply", [
    {"ok": 0, "code": 10107, "errmsg": "not primary"},
    {"ok": 0, "code": 91, "errmsg": "shutdown in progress"},
    {"ok": 1, "n": 1, "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}},
    {"ok": 1, "n": 0, "writeErrors": [{"index": 0, "code": 91, "errmsg": "shutdown in progress"}]},
])
def test_server_trouble_keeps_the_batch_for_a_retry(server: MockupDB, store: MongoStore, reply: dict) -> None:
    future = go(store.insert, "website_logs", [log_doc(0), log_doc(1)])
    server.receives(OpMsg("insert", "website_logs")).reply(reply)
    with pytest.raises(StoreUnavailable):
        future()


def test_a_closed_connection_is_store_unavailable(server: MockupDB, store: MongoStore) -> None:
    future = go(store.insert, "website_logs", [log_doc(0)])
    server.receives(OpMsg("insert", "website_logs")).hangup()
    server.autoresponds(OpMsg("insert", "website_logs"), {"ok": 0, "code": 91, "errmsg": "shutdown in progress"})
    with pytest.raises(StoreUnavailable):
        future()


def test_an_unreachable_server_is_store_unavailable() -> None:
    db = MongoStore("mongodb://127.0.0.1:1/footfall", timeout_ms=200)
    with pytest.raises(StoreUnavailable):
        db.insert("website_logs", [log_doc(0)])
    with pytest.raises(StoreUnavailable):
        db.init()


def test_a_progress_fold_is_one_unordered_bulk_write_of_commutative_upserts(
        server: MockupDB, store: MongoStore) -> None:
    from datetime import UTC, datetime

    from footfall.progress import folds

    at = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    events = [{"site": "s", "user_id": "42", "foss": "$where", "language_name": "English", "tutorial": "a.b",
               "type": kind, "timestamp": at, "position": 61.0, "duration": 300.0, "segments": [12],
               "page_view_id": "11111111-1111-4111-8111-111111111111"} for kind in ("video_play", "video_progress")]
    tutorials = folds(events)
    future = go(progress_in(store).fold, tutorials, 0.8)
    update = server.receives(OpMsg("update", "tutorial_progress"))
    assert update.doc["ordered"] is False
    [op] = update.doc["updates"]
    assert op["upsert"] is True and set(op["u"]) == {"$setOnInsert", "$addToSet", "$max", "$min"}
    assert op["u"]["$setOnInsert"] == {"site": "s", "user_id": "42", "foss": "$where", "language": "English",
                                       "tutorial": "a.b"}  # identifiers are values, never field names
    assert set(op["u"]["$max"]) == {"last", "last_watched_at", "duration"}
    assert op["u"]["$min"]["segments.12"] == at.replace(tzinfo=None)  # the earliest play of each segment: a BSON date
    assert op["u"]["$addToSet"] == {"visits": {"$each": ["11111111-1111-4111-8111-111111111111"]}}
    update.ok(n=1, nModified=0, upserted=[{"index": 0, "_id": tutorials[0].id}])
    server.receives(OpMsg("find", "tutorial_progress")).ok(cursor={"id": 0, "ns": "footfall.tutorial_progress",
                                                                   "firstBatch": []})
    resume = server.receives(OpMsg("update", "resume_points"))
    [op] = resume.doc["updates"]
    assert op["upsert"] is True and op["u"]["$setOnInsert"] == {"site": "s", "user_id": "42", "foss": "$where",
                                                               "language": "English"}
    assert op["u"]["$max"] == {"last": {"at": at.replace(tzinfo=None), "tutorial": "a.b", "position": 61.0}}
    assert list(op["u"]["$max"]["last"]) == ["at", "tutorial", "position"]  # the order $max compares them in
    resume.ok(n=1, nModified=0, upserted=[{"index": 0, "_id": op["q"]["_id"]}])
    future()
