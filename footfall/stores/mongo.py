"""The production store: MongoDB collections with `$jsonSchema` validators generated from the schemas.

Batches go in as one unordered bulk insert: a duplicate `_id` (11000) means the event was redelivered
and is already stored; a validation failure (121) sends that one event to the dead letters; anything
that says the server is unreachable, not primary or shutting down keeps the batch for a retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, MongoClient, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from footfall import progress
from footfall.progress import (
    IDENTITY,
    LEARNER,
    PROGRESS_COLLECTIONS,
    RESUME,
    TUTORIALS,
    TutorialFold,
    key,
    resume_points,
)
from footfall.schemas import DEAD_LETTER_VALIDATOR, DEAD_LETTERS, RAW_AGE, STREAMS, mongo_validator, parse_datetime
from footfall.stores import DeadLetter, StoreUnavailable, WriteResult, check_scalars, decode_all

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


LEARNER_INDEX = [IndexModel([(k, ASCENDING) for k in LEARNER], name="learner")]


def validators() -> dict[str, dict[str, Any]]:
    """Each collection's validator, generated from footfall.schemas (and progress's identity fields)."""
    out = {s.collection: mongo_validator(s) for s in STREAMS.values()}
    out[DEAD_LETTERS] = DEAD_LETTER_VALIDATOR
    out[TUTORIALS] = progress.mongo_validator(IDENTITY)
    out[RESUME] = progress.mongo_validator(LEARNER)
    return out


class MongoStore:
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
        try:
            existing = set(self.db.list_collection_names())
            for name, validator in validators().items():
                options = {"validator": validator, "validationLevel": "strict", "validationAction": "error"}
                if name in existing:
                    self.db.command("collMod", name, **options)
                else:
                    try:
                        self.db.create_collection(name, check_exists=False, **options)
                    except OperationFailure as exc:
                        if exc.code != NAMESPACE_EXISTS:
                            raise
                        self.db.command("collMod", name, **options)  # another process created it meanwhile
                if name == DEAD_LETTERS:
                    self.db[name].create_indexes([IndexModel([("failed_at", ASCENDING)], name="failed_at")])
                elif name in PROGRESS_COLLECTIONS:
                    self.db[name].create_indexes(LEARNER_INDEX)
                else:
                    self.db[name].create_indexes(INDEXES)
                if name in RAW_AGE:
                    self._retention(name, RAW_AGE[name])
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

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
        indexed = decode_all(collection, list(enumerate(raws)), undecodable)
        result = self.insert(collection, [doc for _, doc in indexed])
        result.invalid = sorted(undecodable.invalid + [(indexed[j][0], why) for j, why in result.invalid])
        return result

    def insert(self, collection: str, docs: Sequence[dict[str, Any]]) -> WriteResult:
        if not docs:
            return WriteResult()
        try:
            inserted = self.db[collection].insert_many(list(docs), ordered=False)
            return WriteResult(inserted=len(inserted.inserted_ids))
        except BulkWriteError as exc:
            return _bulk_result(exc.details)
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        result = self.insert(DEAD_LETTERS, [d.as_document() for d in letters])
        if result.invalid:
            raise StoreUnavailable(f"mongodb refused dead letters: {result.invalid[0][1]}")

    def get(self, collection: str, id: str) -> dict[str, Any] | None:
        try:
            return self.db[collection].find_one({"_id": id})
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        check_scalars(equals)
        try:  # values are compared with $eq, so no client string can act as an operator
            query = {k: {"$eq": v} for k, v in equals.items()}
            return list(self.db[collection].find(query).limit(limit))
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def count(self, collection: str) -> int:
        try:
            return self.db[collection].estimated_document_count()
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    # --- tutorial progress ---------------------------------------------------------------------------

    def fold_progress(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """One bulk_write of upserts per batch, with commutative operators only; then the derived
        completion of the touched documents is cached with $set (the read API derives it again)."""
        try:
            if tutorials:
                ids = [f.id for f in tutorials]  # a SHA-256 each: made once
                self.db[TUTORIALS].bulk_write([UpdateOne({"_id": id}, _fold_update(f), upsert=True)
                                               for id, f in zip(ids, tutorials, strict=True)], ordered=False)
                self._cache_derived(ids, threshold)
            if points := resume_points(tutorials):
                self.db[RESUME].bulk_write([
                    UpdateOne({"_id": key(*learner)}, {"$setOnInsert": dict(zip(LEARNER, learner, strict=True)),
                                                       "$max": {"last": {"at": _date(at), "tutorial": tutorial,
                                                                         "position": position}}}, upsert=True)
                    for learner, (at, tutorial, position) in points.items()], ordered=False)
        except PyMongoError as exc:  # includes an upsert race (11000): the whole fold is retried, harmlessly
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def _cache_derived(self, ids: list[str], threshold: float) -> list[dict[str, Any]]:
        derived = [(d, progress.derive(d, threshold)) for d in self.db[TUTORIALS].find({"_id": {"$in": ids}})]
        if derived:
            self.db[TUTORIALS].bulk_write([UpdateOne({"_id": d["_id"]}, {"$set": new}) for d, new in derived],
                                          ordered=False)
        return [{**d, **new} for d, new in derived]

    def mark_progress(self, identity: dict[str, str], state: str, at: datetime, visit: str,
                      threshold: float) -> dict[str, Any]:
        id = progress.key(*(identity[k] for k in IDENTITY))
        try:
            self.db[TUTORIALS].update_one(
                {"_id": id},
                {"$setOnInsert": identity, "$max": {"mark": {"at": at, "state": state, "visit": visit}}},
                upsert=True)
            return self._cache_derived([id], threshold)[0]
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def progress(self, site: str, user_id: str, foss: str, language: str
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        query = {k: {"$eq": v} for k, v in zip(LEARNER, (site, user_id, foss, language), strict=True)}
        try:
            return list(self.db[TUTORIALS].find(query)), self.db[RESUME].find_one(query)
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def prune(self, before: datetime) -> dict[str, int]:
        try:
            return {name: self.db[name].delete_many({age: {"$lt": before}}).deleted_count
                    for name, age in RAW_AGE.items()}
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def forget(self, user_id: str, site: str | None = None) -> dict[str, int]:
        query: dict[str, Any] = {"user_id": {"$eq": user_id}}
        if site is not None:
            query["site"] = {"$eq": site}
        names = [n for n in RAW_AGE if n != DEAD_LETTERS] + list(PROGRESS_COLLECTIONS)
        try:
            return {name: self.db[name].delete_many(query).deleted_count for name in names}
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def ping(self) -> None:
        try:
            self.db.command("ping")
        except (PyMongoError, OperationFailure) as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    def close(self) -> None:
        self.client.close()


def _fold_update(fold: TutorialFold) -> dict[str, Any]:
    """Folds keep times as canonical text; MongoDB stores dates."""
    at, position, visit = fold.last
    highest = {"last": {"at": _date(at), "position": position, "visit": visit},
               "last_watched_at": _date(fold.last_at), "duration": fold.duration}
    return {"$setOnInsert": fold.identity,
            "$addToSet": {"watched": {"$each": [{"minute": m, "at": _date(at)} for m, at in sorted(fold.watched)]},
                          "visits": {"$each": sorted(fold.visits)}},
            "$max": {k: v for k, v in highest.items() if v is not None},
            "$min": {"first_watched_at": _date(fold.first_at)}}


def _date(text: str) -> datetime:
    return parse_datetime(text, "at")


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
