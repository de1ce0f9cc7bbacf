"""The embedded store: one SQLite table per collection, the document as JSON, keyed by event id.

WAL mode lets readers (the read API, `footfall status`) run beside the drainer's writes; a batch is
one transaction. Documents are validated against the same schemas the MongoDB validators come from.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from footfall.codec import Invalid, encode, format_datetime, parse_datetime
from footfall.schemas import BY_COLLECTION, COLLECTIONS, DEAD_LETTERS, RAW_AGE
from footfall.stores import (
    Batch,
    DeadLetter,
    StoreUnavailable,
    WriteResult,
    check_scalars,
    decode_all,
    raw_fragment,
)
from footfall.validation import is_canonical_document, validate_document

T = TypeVar("T")
log = logging.getLogger("footfall.store")
DATETIME_FIELDS: dict[str, tuple[str, ...]] = {c: s.datetime_fields for c, s in BY_COLLECTION.items()}
DATETIME_FIELDS[DEAD_LETTERS] = ("failed_at",)
# One index: time ranges per site. Each more costs ~2 µs a document on insert; MongoDB has four.
INDEXED = {"site_time": ("site", "timestamp")}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_path(name: str) -> str:
    if not _NAME.match(name):  # field names here come from code, never from clients
        raise ValueError(f"not a field name: {name!r}")
    return f"json_extract(doc, '$.{name}')"


class Checkpointer:
    """Copies the write-ahead log into the database from a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold and waits there for
    the database file's fsync (~15 % of a progress fold's time). Here a writer only says that it wrote,
    and the copy overlaps its next batch. Writers keep an automatic checkpoint at 80 MiB of log as a
    backstop: a log written to without pause is only reset by a checkpoint nothing writes during, and
    that one has little left to copy.
    """

    def __init__(self, path: str, every_s: float = 0.5) -> None:
        self.path, self.every_s = path, every_s
        self.wrote, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run, name="sqlite-checkpoint", daemon=True)
        self.thread.start()

    def run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self.stopping.is_set():
                self.wrote.wait()
                self.wrote.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the writers' own checkpoint is still there
                    log.warning("checkpoint failed: %s", exc)
                self.stopping.wait(self.every_s)
        finally:
            db.close()

    def close(self) -> None:
        self.stopping.set()
        self.wrote.set()
        self.thread.join()


class SQLiteStore:
    engine = "sqlite"

    def __init__(self, path: str, busy_timeout_ms: int = 2000) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a batch is committed before Redis lets it go
            self.db.execute("PRAGMA secure_delete=ON")  # erased documents are zeroed, not left in free pages
            self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB: random event ids touch the whole key index
            self.db.execute("PRAGMA wal_autocheckpoint=20000")  # the backstop (80 MiB): see Checkpointer
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {path}: {exc}") from exc
        self.checkpointer = Checkpointer(path) if path != ":memory:" else None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db and sqlite:////abs.db
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"sqlite {path}: {exc.strerror}: {exc.filename}") from exc
        return cls(path)

    def init(self) -> None:
        try:
            for name in COLLECTIONS:
                self.db.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
                if name == DEAD_LETTERS:
                    continue
                extra = {"_".join(fields): fields for fields in BY_COLLECTION[name].indexes}
                for index, fields in {**INDEXED, **extra}.items():
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

    def _write(self, collection: str, docs: list[bytes]) -> int:
        """Insert JSON documents in one transaction; returns how many were new.

        The batch goes in as one JSON array and one statement, not executemany: sqlite3 releases the
        GIL around every row it steps, and whenever another thread holds it (the drainer gathering the
        next batch) each row waits to get it back. One statement releases it once.
        """
        if not docs:
            return 0
        batch = b"[" + b",".join(docs) + b"]"
        before = self.db.total_changes
        # TEXT, not BLOB: from SQLite 3.45 a BLOB is read as JSONB by the JSON functions.
        self.transaction(lambda: self.db.execute(
            f'INSERT INTO "{collection}" (_id, doc) SELECT json_extract(value, \'$._id\'), value '
            f"FROM json_each(?) WHERE true ON CONFLICT (_id) DO NOTHING", (batch.decode(),)))
        return self.db.total_changes - before

    def insert(self, collection: str, docs: Sequence[dict[str, Any]]) -> WriteResult:
        result = WriteResult()
        texts = [text for text in (self._encode(collection, i, doc, result) for i, doc in enumerate(docs)) if text]
        return self._insert(collection, texts, result)

    def insert_json(self, collection: str, raws: Sequence[bytes]) -> WriteResult:
        """What the collector queued is kept as it is, once checked; anything else is decoded, validated
        and encoded again (times in canonical form, so that they sort as text), or reported."""
        result = WriteResult()
        batch = Batch.of(raws)
        texts: list[bytes] = []
        rest: list[int] = []
        for i, raw in enumerate(batch):
            if is_canonical_document(collection, raw):
                texts.append(raw)
            else:
                rest.append(i)
        for i, doc in decode_all(collection, batch, result, rest):
            if text := self._encode(collection, i, doc, result):
                texts.append(text)
        return self._insert(collection, texts, result)

    def _encode(self, collection: str, i: int, doc: dict[str, Any], result: WriteResult) -> bytes | None:
        try:
            validate_document(collection, doc)
            return encode(doc)
        except (Invalid, TypeError, orjson.JSONEncodeError) as exc:
            result.invalid.append((i, f"document failed validation: {exc}"))
            return None

    def _insert(self, collection: str, texts: list[bytes], result: WriteResult) -> WriteResult:
        result.inserted = self._write(collection, texts)
        result.duplicates = len(texts) - result.inserted
        result.invalid.sort()
        return result

    def upsert(self, collection: str, docs: Sequence[dict[str, Any]]) -> int:
        batch = "[" + ",".join(encode(validate_document(collection, d)).decode() for d in docs) + "]"
        return self.transaction(lambda: self.db.execute(
            f'INSERT INTO "{collection}" (_id, doc) SELECT json_extract(value, \'$._id\'), value FROM json_each(?) '
            f"WHERE true ON CONFLICT (_id) DO UPDATE SET doc = excluded.doc", (batch,)).rowcount)

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self._write(DEAD_LETTERS, [encode(d.as_document()) for d in letters])

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def get(self, collection: str, id: str) -> dict[str, Any] | None:
        rows = self.query(f'SELECT doc FROM "{collection}" WHERE _id = ?', (id,))
        return self._decode(collection, rows[0][0]) if rows else None

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        check_scalars(equals)
        where = " AND ".join(f"{_json_path(k)} IS ?" for k in equals) or "1"
        args = [format_datetime(v) if isinstance(v, datetime) else v for v in equals.values()]
        rows = self.query(f'SELECT doc FROM "{collection}" WHERE {where} LIMIT ?', (*args, limit))
        return [self._decode(collection, r[0]) for r in rows]

    def count(self, collection: str) -> int:
        return int(self.query(f'SELECT count(*) FROM "{collection}"')[0][0])

    def in_time_order(self, collection: str, since: datetime | None = None, until: datetime | None = None,
                      **equals: str) -> Iterator[dict[str, Any]]:
        check_scalars(equals)
        time = _json_path("timestamp")
        where = [f"{_json_path(k)} = ?" for k in equals]
        where += [f"{time} >= ?"] * bool(since) + [f"{time} < ?"] * bool(until)
        args = [*equals.values(), *(format_datetime(t) for t in (since, until) if t)]
        try:  # rows come as the cursor reads them: nothing is held but the current one
            cursor = self.db.execute(f'SELECT doc FROM "{collection}" WHERE {" AND ".join(where) or "1"} '
                                     f"ORDER BY {time}", args)
            for (text,) in cursor:
                yield self._decode(collection, text)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def transaction(self, work: Callable[[], T]) -> T:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self.db.execute("COMMIT")
                if self.checkpointer:
                    self.checkpointer.wrote.set()
                return result
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def prune(self, before: datetime) -> dict[str, int]:
        cutoff = format_datetime(before)

        def work() -> dict[str, int]:
            return {name: self.db.execute(f'DELETE FROM "{name}" WHERE {_json_path(age)} < ?', (cutoff,)).rowcount
                    for name, age in RAW_AGE.items()}

        return self.transaction(work)

    def forget(self, user_id: str, site: str | None = None) -> dict[str, int]:
        def work() -> dict[str, int]:
            counts = {}
            for name in RAW_AGE:
                if name == DEAD_LETTERS:
                    continue
                where, args = f"{_json_path('user_id')} = ?", [user_id]
                if site is not None:
                    where, args = f"{where} AND {_json_path('site')} = ?", [user_id, site]
                counts[name] = self.db.execute(f'DELETE FROM "{name}" WHERE {where}', args).rowcount
            fragments = [raw_fragment("user_id", user_id)] + ([raw_fragment("site", site)] if site is not None else [])
            where = " AND ".join(f"instr({_json_path('raw')}, ?) > 0" for _ in fragments)
            counts[DEAD_LETTERS] = self.db.execute(f'DELETE FROM "{DEAD_LETTERS}" WHERE {where}', fragments).rowcount
            return counts

        return self.transaction(work)

    def purge(self, attempts: int = 50) -> None:
        """Copy the log into the database file (whose freed pages secure_delete zeroed) and truncate it. A
        reader in the middle of a transaction can hold the log back: try again for a while, then say so."""
        for _ in range(attempts):
            busy, _, _ = self.query("PRAGMA wal_checkpoint(TRUNCATE)")[0]
            if not busy:
                return
            time.sleep(0.1)
        raise StoreUnavailable(f"sqlite {self.path}: readers kept the log busy; erased data may remain in the "
                               "-wal file until the next checkpoint")

    def ping(self) -> None:
        self.query("SELECT 1")

    def close(self) -> None:
        if self.checkpointer:
            self.checkpointer.close()
        self.db.close()
