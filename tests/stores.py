"""Store factories for the conformance suite, and documents to feed them."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mongomock
import pymongo

from footfall.stores import Store
from footfall.stores.mongo import MongoStore
from footfall.stores.sqlite import SQLiteStore

MONGODB_URI = os.environ.get("FOOTFALL_TEST_MONGODB_URI")
# Only the stores that really apply $jsonSchema validators can refuse a document (mongomock cannot).
VALIDATING = {"sqlite", "mongodb"}


def _ignore_validators(db: Any) -> None:
    """mongomock does not implement validators (mockupdb checks those on the wire): accept and ignore them."""
    create, command = db.create_collection, db.command
    db.create_collection = lambda name, **options: create(name)
    db.command = lambda cmd, *args, **options: {"ok": 1.0} if cmd == "collMod" else command(cmd)


def _accept_newer_pymongo_bulk_arguments() -> None:
    """pymongo >= 4.11 passes `sort` to bulk update builders; mongomock 4.3 does not take it (and no
    Footfall update sorts)."""
    builder = mongomock.collection.BulkOperationBuilder
    if getattr(builder.add_update, "_footfall_shim", False):
        return
    add_update = builder.add_update

    def shimmed(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        assert sort is None
        return add_update(self, *args, **kwargs)

    shimmed._footfall_shim = True  # type: ignore[attr-defined]
    builder.add_update = shimmed


def _bson_order(value: Any) -> Any:
    """MongoDB compares embedded documents field by field, in order; mongomock compares them not at all."""
    return tuple((k, _bson_order(v)) for k, v in value.items()) if isinstance(value, dict) else value


def _compare_like_mongodb() -> None:
    updaters = next(v for k, v in vars(mongomock.collection).items() if isinstance(v, dict) and "$max" in v)

    def highest(doc: Any, name: str, value: Any) -> None:
        if isinstance(doc, dict):
            doc[name] = max(doc.get(name, value), value, key=_bson_order)

    def lowest(doc: Any, name: str, value: Any) -> None:
        if isinstance(doc, dict):
            doc[name] = min(doc.get(name, value), value, key=_bson_order)

    updaters["$max"], updaters["$min"] = highest, lowest


def make_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "conformance.db"))
    if kind == "mongomock":
        _accept_newer_pymongo_bulk_arguments()
        _compare_like_mongodb()
        client = mongomock.MongoClient(tz_aware=True)
        store = MongoStore("mongodb://localhost/footfall", client=client)
        _ignore_validators(store.db)
        return store
    assert MONGODB_URI, "real MongoDB runs need FOOTFALL_TEST_MONGODB_URI"
    database = f"footfall_test_{uuid.uuid4().hex[:8]}"
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGODB_URI, tz_aware=True)
    client.drop_database(database)
    return MongoStore(f"{MONGODB_URI.rstrip('/')}/{database}", client=client)


def store_kinds() -> list[str]:
    return ["sqlite", "mongomock", *(["mongodb"] if MONGODB_URI else [])]


def log_doc(n: int = 0, **fields: Any) -> dict[str, Any]:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    return {"_id": str(uuid.UUID(int=n + 1)), "site": "test", "source": "browser", "type": "page_view",
            "event_name": "event.page", "timestamp": at, "received_at": at + timedelta(milliseconds=5),
            "path": f"/page/{n}", "user_id": None, "first_time_visit": n == 0, **fields}
