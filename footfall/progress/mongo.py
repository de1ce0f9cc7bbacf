"""Tutorial progress in MongoDB: one unordered bulk write of upserts per batch, with commutative operators
only ($addToSet, $max, $min), so that redelivery, late events and concurrent drainers all agree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne

from footfall.codec import parse_datetime
from footfall.progress.fold import (
    IDENTITY,
    LEARNER,
    MAX_VISITS,
    RESUME,
    TUTORIALS,
    TutorialFold,
    derive,
    first_visits,
    key,
    resume_points,
)
from footfall.stores.mongo import Collection, MongoStore, unavailable

LEARNER_INDEX = [IndexModel([(k, ASCENDING) for k in LEARNER], name="learner")]


def validator(identity: Iterable[str]) -> dict[str, Any]:
    """Progress documents must name whose progress they are, as strings (values, never keys)."""
    names = list(identity)
    return {"$jsonSchema": {"bsonType": "object", "required": ["_id", *names],
                            "properties": {n: {"bsonType": "string", "maxLength": 256} for n in ["_id", *names]}}}


COLLECTIONS = {TUTORIALS: Collection(validator(IDENTITY), LEARNER_INDEX),
               RESUME: Collection(validator(LEARNER), LEARNER_INDEX)}


class MongoProgress:
    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self.db = store.db

    def init(self) -> None:
        self.store.ensure_collections(COLLECTIONS)

    def fold(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """Then the derived completion of the touched documents is cached with $set (the read API derives it
        again). An upsert race (11000) makes the whole fold retried, harmlessly."""
        with unavailable():
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

    def _cache_derived(self, ids: list[str], threshold: float) -> list[dict[str, Any]]:
        """Cache the derived completion, and keep only the first MAX_VISITS page views: a $pull of the ids
        past the cut-off, which a page view added meanwhile cannot undo (it is past it, or the next fold
        cuts again)."""
        derived = [(d, derive(d, threshold)) for d in self.db[TUTORIALS].find({"_id": {"$in": ids}})]
        updates = []
        for d, new in derived:
            update: dict[str, Any] = {"$set": new}
            if len(visits := d.get("visits", [])) > MAX_VISITS:
                cut = sorted(visits)[MAX_VISITS - 1]
                update["$pull"] = {"visits": {"$gt": cut}}
                d["visits"] = first_visits(visits)
            updates.append(UpdateOne({"_id": d["_id"]}, update))
        if updates:
            self.db[TUTORIALS].bulk_write(updates, ordered=False)
        return [{**d, **new} for d, new in derived]

    def mark(self, identity: dict[str, str], state: str, at: datetime, visit: str,
             threshold: float) -> dict[str, Any]:
        id = key(*(identity[k] for k in IDENTITY))
        with unavailable():
            self.db[TUTORIALS].update_one(
                {"_id": id},
                {"$setOnInsert": identity, "$max": {"mark": {"at": at, "state": state, "visit": visit}}},
                upsert=True)
            return self._cache_derived([id], threshold)[0]

    def read(self, site: str, user_id: str, foss: str, language: str
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        query = {k: {"$eq": v} for k, v in zip(LEARNER, (site, user_id, foss, language), strict=True)}
        with unavailable():
            return list(self.db[TUTORIALS].find(query)), self.db[RESUME].find_one(query)

    def forget(self, user_id: str, site: str | None) -> dict[str, int]:
        query: dict[str, Any] = {"user_id": {"$eq": user_id}}
        if site is not None:
            query["site"] = {"$eq": site}
        with unavailable():
            return {name: self.db[name].delete_many(query).deleted_count for name in (TUTORIALS, RESUME)}


def _fold_update(fold: TutorialFold) -> dict[str, Any]:
    """Folds keep times as canonical text; MongoDB stores dates."""
    at, position, visit = fold.last
    highest = {"last": {"at": _date(at), "position": position, "visit": visit},
               "last_watched_at": _date(fold.last_at), "duration": fold.duration}
    earliest = {"first_watched_at": _date(fold.first_at),
                **{f"segments.{s}": _date(at) for s, at in sorted(fold.segments.items())}}  # s: an int we checked
    return {"$setOnInsert": fold.identity,
            "$addToSet": {"visits": {"$each": sorted(fold.visits)}},
            "$max": {k: v for k, v in highest.items() if v is not None},
            "$min": earliest}


def _date(text: str) -> datetime:
    return parse_datetime(text, "at")
