"""The embedded store: one SQLite table per collection, the document as JSON, keyed by event id.

WAL mode lets readers (the read API, `footfall status`) run beside the drainer's writes; a batch is
one transaction. Documents are validated against the same schemas the MongoDB validators come from.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from footfall import progress
from footfall.progress import IDENTITY, LEARNER, RESUME, TUTORIALS, TutorialFold
from footfall.schemas import (
    COLLECTIONS,
    DEAD_LETTERS,
    RAW_AGE,
    STREAMS,
    Invalid,
    encode,
    format_datetime,
    is_canonical_document,
    parse_datetime,
    validate_document,
)
from footfall.stores import DeadLetter, StoreUnavailable, WriteResult, check_scalars, decode_all

T = TypeVar("T")
log = logging.getLogger("footfall.store")
DATETIME_FIELDS: dict[str, tuple[str, ...]] = {s.collection: s.datetime_fields for s in STREAMS.values()}
DATETIME_FIELDS[DEAD_LETTERS] = ("failed_at",)
# One index: time ranges per site. Each more costs ~2 µs a document on insert; MongoDB has four.
INDEXED = {"site_time": ("site", "timestamp")}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _progress_times(doc: dict[str, Any]) -> dict[str, Any]:
    """Progress documents keep times nested (last.at, watched[].at): back to datetimes."""
    for name in ("first_watched_at", "last_watched_at", "completed_at"):
        if doc.get(name):
            doc[name] = parse_datetime(doc[name], name)
    for inner in (doc.get("last"), doc.get("mark")):
        if inner:
            inner["at"] = parse_datetime(inner["at"], "at")
    for watched in doc.get("watched", []):
        watched["at"] = parse_datetime(watched["at"], "at")
    return doc


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
    def __init__(self, path: str, busy_timeout_ms: int = 2000) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a batch is committed before Redis lets it go
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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def init(self) -> None:
        try:
            self._progress_tables()
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
        self._transaction(lambda: self.db.execute(
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
        texts: list[bytes] = []
        rest: list[tuple[int, bytes]] = []
        for i, raw in enumerate(raws):
            if is_canonical_document(collection, raw):
                texts.append(raw)
            else:
                rest.append((i, raw))
        for i, doc in decode_all(collection, rest, result):
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

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self._write(DEAD_LETTERS, [encode(d.as_document()) for d in letters])

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

    # --- tutorial progress: read, merge in Python (progress.apply), write back, in one transaction ---------
    #
    # A learner's identity is the key: one unique index finds a tutorial, a learner's tutorials (its
    # prefix) and catches a second insert. Rows are appended in rowid order, so that a new tutorial
    # writes one random index page, not two (an id index as well): pages written are what a fold costs.
    # Resume points are a view of the tutorials' last positions: nothing more to write, and never out of step.

    def _progress_tables(self) -> None:
        learner = ", ".join(LEARNER)
        table = (f'CREATE TABLE IF NOT EXISTS "{TUTORIALS}" (site TEXT, user_id TEXT, foss TEXT, language TEXT, '
                 f"tutorial TEXT, doc TEXT NOT NULL, UNIQUE ({learner}, tutorial))")
        at, position = "json_extract(doc, '$.last.at')", "json_extract(doc, '$.last.position')"
        view = (f'CREATE VIEW IF NOT EXISTS "{RESUME}" AS SELECT {learner}, tutorial, last_at, last_position FROM '
                f"(SELECT {learner}, tutorial, {at} AS last_at, {position} AS last_position, row_number() OVER "
                f"(PARTITION BY {learner} ORDER BY {at} DESC, tutorial DESC, {position} DESC) AS n "
                f'FROM "{TUTORIALS}" WHERE {at} IS NOT NULL) WHERE n = 1')
        if self._progress_kinds() != {TUTORIALS: "table", RESUME: "view"}:  # a write lock only when needed
            self._transaction(lambda: self._progress_layout(table, view))

    def _progress_kinds(self) -> dict[str, str]:
        """What the progress collections are: a table (the hashed-id layout's tutorials are "old") or a view."""
        kinds = dict(self.db.execute("SELECT name, type FROM sqlite_master WHERE name IN (?, ?)", (TUTORIALS, RESUME)))
        if kinds.get(TUTORIALS) and "_id" in {row[1] for row in self.db.execute(f'PRAGMA table_info("{TUTORIALS}")')}:
            kinds[TUTORIALS] = "old"
        return kinds

    def _progress_layout(self, table: str, view: str) -> None:
        """In one transaction, so that drainers starting together migrate once."""
        kinds = self._progress_kinds()
        if kinds.get(TUTORIALS) == "old":
            self._migrate_progress(table)
        if kinds.get(RESUME) == "table":  # resume points were kept, not derived (the same facts, folded twice)
            self.db.execute(f'DROP TABLE "{RESUME}"')
        self.db.execute(table)
        self.db.execute(view)

    def _migrate_progress(self, table: str) -> None:
        """From the layout keyed by a hashed id, where who and which tutorial were only in the document."""
        self.db.execute(f'ALTER TABLE "{TUTORIALS}" RENAME TO "{TUTORIALS}_old"')
        self.db.execute(f'DROP INDEX IF EXISTS "{TUTORIALS}_learner"')
        self.db.execute(table)
        identity = ", ".join(f"'$.{name}'" for name in ("_id", *IDENTITY))
        self.db.execute(f'INSERT INTO "{TUTORIALS}" SELECT {", ".join(LEARNER)}, json_extract(doc, \'$.tutorial\'), '
                        f'json_remove(doc, {identity}) FROM "{TUTORIALS}_old"')
        self.db.execute(f'DROP TABLE "{TUTORIALS}_old"')

    def _tutorials(self, names: Sequence[tuple[str, ...]]) -> dict[int, tuple[int, dict[str, Any]]]:
        """Stored tutorial documents (by their place in `names`) with their rowids; times stay canonical text."""
        rows = self.db.execute(
            f'SELECT j.key, t.rowid, t.doc FROM json_each(?) j JOIN "{TUTORIALS}" t ON (t.site, t.user_id, '
            f"t.foss, t.language, t.tutorial) = (json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
            f"json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'))",
            (orjson.dumps(names).decode(),))
        return {i: (rowid, orjson.loads(doc)) for i, rowid, doc in rows}

    def _put(self, updates: list[tuple[str, int]], inserts: list[tuple[str, ...]]) -> None:
        """Known rows are updated by rowid, (document, rowid); new ones inserted, (*names, document)."""
        self.db.executemany(f'UPDATE "{TUTORIALS}" SET doc = ? WHERE rowid = ?', updates)
        self.db.executemany(f'INSERT INTO "{TUTORIALS}" VALUES (?, ?, ?, ?, ?, ?)', inserts)

    def _transaction(self, work: Callable[[], T]) -> T:
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

    def fold_progress(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """Resume points follow from the tutorials' last positions (the `resume_points` view)."""

        def work() -> None:
            stored = self._tutorials([f.names for f in tutorials])
            updates, inserts = [], []
            for i, fold in enumerate(tutorials):
                rowid, doc = stored.get(i, (None, None))
                doc = progress.apply(doc, fold)
                doc.update(progress.derive(doc, threshold))
                if rowid is None:
                    inserts.append((*fold.names, orjson.dumps(doc).decode()))  # times are text already
                else:
                    updates.append((orjson.dumps(doc).decode(), rowid))
            self._put(updates, inserts)

        self._transaction(work)

    def mark_progress(self, identity: dict[str, str], state: str, at: datetime, visit: str,
                      threshold: float) -> dict[str, Any]:
        names = tuple(identity[k] for k in IDENTITY)
        when = format_datetime(at)

        def work() -> dict[str, Any]:
            rowid, doc = self._tutorials([names]).get(0, (None, None))
            doc = dict(doc) if doc else {"watched": [], "visits": []}
            if doc.get("mark") is None or (when, state) > (doc["mark"]["at"], doc["mark"]["state"]):
                doc["mark"] = {"at": when, "state": state, "visit": visit}
            doc.update(progress.derive(doc, threshold))
            text = encode(doc).decode()
            if rowid is None:
                self._put([], [(*names, text)])
            else:
                self._put([(text, rowid)], [])
            return _progress_times({**identity, **doc})

        return self._transaction(work)

    def progress(self, site: str, user_id: str, foss: str, language: str
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        where = " AND ".join(f"{k} = ?" for k in LEARNER)
        names = (site, user_id, foss, language)
        rows = self._query(f'SELECT tutorial, doc FROM "{TUTORIALS}" WHERE {where}', names)
        resume = self._query(f'SELECT tutorial, last_at, last_position FROM "{RESUME}" WHERE {where}', names)
        learner = dict(zip(LEARNER, names, strict=True))
        point = None
        if resume:
            tutorial, at, position = resume[0]
            point = {**learner, "last": {"at": parse_datetime(at, "at"), "tutorial": tutorial, "position": position}}
        return [_progress_times({**learner, "tutorial": t, **orjson.loads(doc)}) for t, doc in rows], point

    def prune(self, before: datetime) -> dict[str, int]:
        cutoff = format_datetime(before)

        def work() -> dict[str, int]:
            return {name: self.db.execute(f'DELETE FROM "{name}" WHERE {_json_path(age)} < ?', (cutoff,)).rowcount
                    for name, age in RAW_AGE.items()}

        return self._transaction(work)

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
            where = "user_id = ?" + (" AND site = ?" if site is not None else "")
            args = [user_id] + ([site] if site is not None else [])
            counts[RESUME] = self.db.execute(f'SELECT count(*) FROM "{RESUME}" WHERE {where}', args).fetchone()[0]
            counts[TUTORIALS] = self.db.execute(f'DELETE FROM "{TUTORIALS}" WHERE {where}', args).rowcount
            return counts

        return self._transaction(work)

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        if self.checkpointer:
            self.checkpointer.close()
        self.db.close()
