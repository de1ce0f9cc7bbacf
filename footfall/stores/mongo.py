"""The production store: MongoDB collections with `$jsonSchema` validators generated from the schemas.

Batches go in as one unordered bulk insert: a duplicate `_id` (11000) means the event was redelivered
and is already stored; a validation failure (121) sends that one event to the dead letters; anything
that says the server is unreachable, not primary or shutting down keeps the batch for a retry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, MongoClient, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from footfall.generated_schemas import DEAD_LETTER_VALIDATOR, mongo_validator
from footfall.schemas import COURSE_BLOCKS, DEAD_LETTERS, IMPORTS, RAW_AGE, STORED
from footfall.stores import (
    Batch,
    DeadLetter,
    StoreUnavailable,
    WriteResult,
    check_scalars,
    decode_all,
    raw_fragment,
)

RETENTION_INDEX = "retention"
NAMESPACE_EXISTS = 48
DUPLICATE_KEY = 11000
DOCUMENT_VALIDATION_FAILURE = 121
# Per-document codes that say "not now" rather than "never": keep the batch and retry.
TRANSIENT_CODES = frozenset({6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})
INDEXES = [
    IndexModel([("timestamp", ASCENDING)], name="timestamp"),
    IndexModel([("site", ASCENDING), ("timestamp", ASCENDING)], name="site_time"),
    IndexModel([("user_id", ASCENDING)], name="user"),
    IndexModel([("event_name", ASCENDING)], name="event_name"),
]


@dataclass(frozen=True)
class Collection:
    """A collection as `ensure_collections` makes it: its validator, its indexes, and for raw events the
    field their age is counted from (a TTL index under FOOTFALL_RETENTION_DAYS)."""

    validator: dict[str, Any]
    indexes: list[IndexModel]
    age: str | None = None


def raw_collections() -> dict[str, Collection]:
    """Each raw collection, its validator generated from footfall.schemas."""
    out = {s.collection: Collection(mongo_validator(s), INDEXES + [IndexModel([(f, ASCENDING) for f in fields],
                                                                           name="_".join(fields))
                                                                for fields in s.indexes], RAW_AGE[s.collection])
           for s in STORED}
    out[IMPORTS.collection] = Collection(mongo_validator(IMPORTS), [IndexModel([("finished_at", ASCENDING)],
                                                                              name="finished_at")])
    out[COURSE_BLOCKS.collection] = Collection(mongo_validator(COURSE_BLOCKS), [IndexModel(
        [("course_id", ASCENDING), ("position", ASCENDING)], name="course_position")])
    out[DEAD_LETTERS] = Collection(DEAD_LETTER_VALIDATOR, [IndexModel([("failed_at", ASCENDING)], name="failed_at")],
                                   RAW_AGE[DEAD_LETTERS])
    return out


@contextmanager
def unavailable() -> Iterator[None]:
    """Any driver error is the store being unavailable: the caller keeps its batch and retries."""
    try:
        yield
    except PyMongoError as exc:
        raise StoreUnavailable(f"mongodb: {exc}") from exc


class MongoStore:
    engine = "mongodb"

    def __init__(self, url: str, *, write_concern: str = "majority", timeout_ms: int = 5000,
                 retention_days: int = 0, client: MongoClient[dict[str, Any]] | None = None) -> None:
        self.retention_days = retention_days
        self.client: MongoClient[dict[str, Any]] = client or MongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms * 4, retryWrites=True, appname="footfall",
        )
        w: int | str = int(write_concern) if write_concern.isdigit() else write_concern
        self.db: Database[dict[str, Any]] = self.client.get_default_database(
            default="footfall", write_concern=WriteConcern(w=w)
        )

    def init(self) -> None:
        self.ensure_collections(raw_collections())

    def ensure_collections(self, collections: Mapping[str, Collection]) -> None:
        """Create each collection with its validator and indexes, or update them in place; safe to run again,
        and from several processes at once."""
        with unavailable():
            existing = set(self.db.list_collection_names())
            for name, spec in collections.items():
                options = {"validator": spec.validator, "validationLevel": "strict", "validationAction": "error"}
                if name in existing:
                    self.db.command("collMod", name, **options)
                else:
                    try:
                        self.db.create_collection(name, check_exists=False, **options)
                    except OperationFailure as exc:
                        if exc.code != NAMESPACE_EXISTS:
                            raise
                        self.db.command("collMod", name, **options)  # another process created it meanwhile
                self.db[name].create_indexes(spec.indexes)
                if spec.age is not None:
                    self._retention(name, spec.age)

    def _retention(self, collection: str, age: str) -> None:
        """A TTL index deletes raw events after FOOTFALL_RETENTION_DAYS; changed in place, removed at 0."""
        existing = self.db[collection].index_information().get(RETENTION_INDEX)
        seconds = self.retention_days * 86_400
        if not seconds:
            if existing:
                self.db[collection].drop_index(RETENTION_INDEX)
        elif existing is None:
            self.db[collection].create_index([(age, ASCENDING)], name=RETENTION_INDEX, expireAfterSeconds=seconds)
        elif existing.get("expireAfterSeconds") != seconds:
            self.db.command("collMod", collection, index={"name": RETENTION_INDEX, "expireAfterSeconds": seconds})

    def insert_json(self, collection: str, raws: Sequence[bytes]) -> WriteResult:
        undecodable = WriteResult()
        indexed = decode_all(collection, Batch.of(raws), undecodable)
        result = self.insert(collection, [doc for _, doc in indexed])
        result.invalid = sorted(undecodable.invalid + [(indexed[j][0], why) for j, why in result.invalid])
        return result

    def insert(self, collection: str, docs: Sequence[dict[str, Any]]) -> WriteResult:
        if not docs:
            return WriteResult()
        try:
            inserted = self.db[collection].insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:  # some went in: duplicates, refusals and transient errors, per document
            return _bulk_result(exc.details)
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc
        return WriteResult(inserted=len(inserted.inserted_ids))

    def upsert(self, collection: str, docs: Sequence[dict[str, Any]]) -> int:
        if not docs:
            return 0
        with unavailable():
            result = self.db[collection].bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                                                    ordered=False)
        return result.upserted_count + result.modified_count

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        result = self.insert(DEAD_LETTERS, [d.as_document() for d in letters])
        if result.invalid:
            raise StoreUnavailable(f"mongodb refused dead letters: {result.invalid[0][1]}")

    def get(self, collection: str, id: str) -> dict[str, Any] | None:
        with unavailable():
            return self.db[collection].find_one({"_id": id})

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        check_scalars(equals)
        with unavailable():  # values are compared with $eq, so no client string can act as an operator
            return list(self.db[collection].find({k: {"$eq": v} for k, v in equals.items()}).limit(limit))

    def count(self, collection: str) -> int:
        with unavailable():
            return self.db[collection].estimated_document_count()

    def in_time_order(self, collection: str, since: datetime | None = None, until: datetime | None = None,
                      **equals: str) -> Iterator[dict[str, Any]]:
        check_scalars(equals)
        query: dict[str, Any] = {k: {"$eq": v} for k, v in equals.items()}
        window = {op: t for op, t in (("$gte", since), ("$lt", until)) if t is not None}
        if window:
            query["timestamp"] = window
        with unavailable():
            yield from self.db[collection].find(query).sort("timestamp", ASCENDING)

    def prune(self, before: datetime) -> dict[str, int]:
        with unavailable():
            return {name: self.db[name].delete_many({age: {"$lt": before}}).deleted_count
                    for name, age in RAW_AGE.items()}

    def forget(self, user_id: str, site: str | None = None) -> dict[str, int]:
        query: dict[str, Any] = {"user_id": {"$eq": user_id}}
        if site is not None:
            query["site"] = {"$eq": site}
        fragments = [raw_fragment("user_id", user_id)] + ([raw_fragment("site", site)] if site is not None else [])
        letters = {"$and": [{"raw": {"$regex": re.escape(f)}} for f in fragments]}
        with unavailable():
            counts = {name: self.db[name].delete_many(query).deleted_count for name in RAW_AGE if name != DEAD_LETTERS}
            counts[DEAD_LETTERS] = self.db[DEAD_LETTERS].delete_many(letters).deleted_count
            return counts

    def purge(self) -> None:
        """WiredTiger reuses freed space; nothing is left for Footfall to do."""

    def ping(self) -> None:
        with unavailable():
            self.db.command("ping")

    def close(self) -> None:
        self.client.close()


def _bulk_result(details: dict[str, Any]) -> WriteResult:
    if details.get("writeConcernErrors"):
        raise StoreUnavailable(f"mongodb write concern not met: {details['writeConcernErrors'][0]}")
    result = WriteResult(inserted=int(details.get("nInserted", 0)))
    for error in details.get("writeErrors", []):
        code = error.get("code")
        if code == DUPLICATE_KEY:
            result.duplicates += 1
        elif code in TRANSIENT_CODES:
            raise StoreUnavailable(f"mongodb: {error.get('errmsg', code)}")
        elif code == DOCUMENT_VALIDATION_FAILURE:
            info = error.get("errInfo", {}).get("details", "")
            result.invalid.append((error["index"], f"document failed validation: {info}".rstrip(": ")))
        else:
            result.invalid.append((error["index"], f"mongodb error {code}: {error.get('errmsg', '')}"))
    return result
