"""The embedded store: one SQLite table per collection, the document as JSON, keyed by event id.

WAL mode lets readers (the read API, `footfall status`) run beside the drainer's writes; a batch is
one transaction. Documents are validated against the same schemas the MongoDB validators come from.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from footfall.schemas import (
    COLLECTIONS,
    DEAD_LETTERS,
    STREAMS,
    Invalid,
    encode,
    format_datetime,
    parse_datetime,
    validate_document,
)
from footfall.stores import DeadLetter, StoreUnavailable, WriteResult, check_scalars

DATETIME_FIELDS: dict[str, tuple[str, ...]] = {s.collection: s.datetime_fields for s in STREAMS.values()}
DATETIME_FIELDS[DEAD_LETTERS] = ("failed_at",)
# One index: time ranges per site. Each more costs ~2 µs a document on insert; MongoDB has four.
INDEXED = {"site_time": ("site", "timestamp")}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_path(name: str) -> str:
    if not _NAME.match(name):  # field names here come from code, never from clients
        raise ValueError(f"not a field name: {name!r}")
    return f"json_extract(doc, '$.{name}')"


class SQLiteStore:
    def __init__(self, path: str, busy_timeout_ms: int = 2000) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a batch is committed before Redis lets it go
            self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB: random event ids touch the whole key index
            self.db.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint every ~40 MiB, not every 4
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {path}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db and sqlite:////abs.db
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def init(self) -> None:
        try:
            for name in COLLECTIONS:
                self.db.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
                if name == DEAD_LETTERS:
                    continue
                for index, fields in INDEXED.items():
                    columns = ", ".join(_json_path(f) for f in fields)
                    self.db.execute(f'CREATE INDEX IF NOT EXISTS "{name}_{index}" ON "{name}" ({columns})')
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def _decode(self, collection: str, text: str) -> dict[str, Any]:
        doc = orjson.loads(text)
        for f in DATETIME_FIELDS[collection]:
            if doc.get(f) is not None:
                doc[f] = parse_datetime(doc[f], f)
        return doc

    def _write(self, collection: str, rows: list[tuple[str, str]]) -> int:
        """Insert in one transaction; returns how many were new."""
        if not rows:
            return 0
        try:
            before = self.db.total_changes
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    f'INSERT INTO "{collection}" (_id, doc) VALUES (?, ?) ON CONFLICT (_id) DO NOTHING', rows
                )
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            return self.db.total_changes - before
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def insert(self, collection: str, docs: Sequence[dict[str, Any]],
               encoded: Sequence[bytes | None] | None = None) -> WriteResult:
        result = WriteResult()
        rows: list[tuple[str, str]] = []
        for i, doc in enumerate(docs):
            try:
                validate_document(collection, doc)
                # TEXT, not BLOB: from SQLite 3.45 a BLOB is read as JSONB by the JSON functions.
                rows.append((doc["_id"], ((encoded[i] if encoded else None) or encode(doc)).decode()))
            except (Invalid, TypeError, orjson.JSONEncodeError) as exc:
                result.invalid.append((i, f"document failed validation: {exc}"))
        result.inserted = self._write(collection, rows)
        result.duplicates = len(rows) - result.inserted
        return result

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self._write(DEAD_LETTERS, [(d.id, encode(d.as_document()).decode()) for d in letters])

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def get(self, collection: str, id: str) -> dict[str, Any] | None:
        rows = self._query(f'SELECT doc FROM "{collection}" WHERE _id = ?', (id,))
        return self._decode(collection, rows[0][0]) if rows else None

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        check_scalars(equals)
        where = " AND ".join(f"{_json_path(k)} IS ?" for k in equals) or "1"
        args = [format_datetime(v) if isinstance(v, datetime) else v for v in equals.values()]
        rows = self._query(f'SELECT doc FROM "{collection}" WHERE {where} LIMIT ?', (*args, limit))
        return [self._decode(collection, r[0]) for r in rows]

    def count(self, collection: str) -> int:
        return int(self._query(f'SELECT count(*) FROM "{collection}"')[0][0])

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        self.db.close()
