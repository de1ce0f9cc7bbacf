"""Tutorial progress in the embedded store: read, merge in Python (`fold.apply`), write back, in one
transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from footfall.codec import encode, format_datetime, parse_datetime
from footfall.progress.fold import IDENTITY, LEARNER, RESUME, TUTORIALS, TutorialFold, apply, derive
from footfall.stores import StoreUnavailable
from footfall.stores.sqlite import SQLiteStore


def _progress_times(doc: dict[str, Any]) -> dict[str, Any]:
    """Progress documents keep times nested (last.at, segments, legacy watched[].at): back to datetimes."""
    for name in ("first_watched_at", "last_watched_at", "completed_at"):
        if doc.get(name):
            doc[name] = parse_datetime(doc[name], name)
    for inner in (doc.get("last"), doc.get("mark")):
        if inner:
            inner["at"] = parse_datetime(inner["at"], "at")
    for watched in doc.get("watched", []):
        watched["at"] = parse_datetime(watched["at"], "at")
    if segments := doc.get("segments"):
        doc["segments"] = {s: parse_datetime(at, "at") for s, at in segments.items()}
    return doc


class SQLiteProgress:
    """A learner's identity is the key: one unique index finds a tutorial, a learner's tutorials (its
    prefix) and catches a second insert. Rows are appended in rowid order, so that a new tutorial
    writes one random index page, not two (an id index as well): pages written are what a fold costs.
    Resume points are a view of the tutorials' last positions: nothing more to write, and never out of step.
    """

    def __init__(self, store: SQLiteStore) -> None:
        self.store, self.db = store, store.db

    def init(self) -> None:
        learner = ", ".join(LEARNER)
        table = (f'CREATE TABLE IF NOT EXISTS "{TUTORIALS}" (site TEXT, user_id TEXT, foss TEXT, language TEXT, '
                 f"tutorial TEXT, doc TEXT NOT NULL, UNIQUE ({learner}, tutorial))")
        at, position = "json_extract(doc, '$.last.at')", "json_extract(doc, '$.last.position')"
        view = (f'CREATE VIEW IF NOT EXISTS "{RESUME}" AS SELECT {learner}, tutorial, last_at, last_position FROM '
                f"(SELECT {learner}, tutorial, {at} AS last_at, {position} AS last_position, row_number() OVER "
                f"(PARTITION BY {learner} ORDER BY {at} DESC, tutorial DESC, {position} DESC) AS n "
                f'FROM "{TUTORIALS}" WHERE {at} IS NOT NULL) WHERE n = 1')
        try:
            kinds = self._progress_kinds()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.store.path}: {exc}") from exc
        if kinds != {TUTORIALS: "table", RESUME: "view"}:  # a write lock only when needed
            self.store.transaction(lambda: self._progress_layout(table, view))

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

    def fold(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """Resume points follow from the tutorials' last positions (the `resume_points` view)."""

        def work() -> None:
            stored = self._tutorials([f.names for f in tutorials])
            updates, inserts = [], []
            for i, fold in enumerate(tutorials):
                rowid, doc = stored.get(i, (None, None))
                doc = apply(doc, fold)
                doc.update(derive(doc, threshold))
                if rowid is None:
                    inserts.append((*fold.names, orjson.dumps(doc).decode()))  # times are text already
                else:
                    updates.append((orjson.dumps(doc).decode(), rowid))
            self._put(updates, inserts)

        self.store.transaction(work)

    def mark(self, identity: dict[str, str], state: str, at: datetime, visit: str,
                      threshold: float) -> dict[str, Any]:
        names = tuple(identity[k] for k in IDENTITY)
        when = format_datetime(at)

        def work() -> dict[str, Any]:
            rowid, doc = self._tutorials([names]).get(0, (None, None))
            doc = dict(doc) if doc else {"segments": {}, "visits": []}
            if doc.get("mark") is None or (when, state) > (doc["mark"]["at"], doc["mark"]["state"]):
                doc["mark"] = {"at": when, "state": state, "visit": visit}
            doc.update(derive(doc, threshold))
            text = encode(doc).decode()
            if rowid is None:
                self._put([], [(*names, text)])
            else:
                self._put([(text, rowid)], [])
            return _progress_times({**identity, **doc})

        return self.store.transaction(work)

    def read(self, site: str, user_id: str, foss: str, language: str
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        where = " AND ".join(f"{k} = ?" for k in LEARNER)
        names = (site, user_id, foss, language)
        rows = self.store.query(f'SELECT tutorial, doc FROM "{TUTORIALS}" WHERE {where}', names)
        resume = self.store.query(f'SELECT tutorial, last_at, last_position FROM "{RESUME}" WHERE {where}', names)
        learner = dict(zip(LEARNER, names, strict=True))
        point = None
        if resume:
            tutorial, at, position = resume[0]
            point = {**learner, "last": {"at": parse_datetime(at, "at"), "tutorial": tutorial, "position": position}}
        return [_progress_times({**learner, "tutorial": t, **orjson.loads(doc)}) for t, doc in rows], point

    def forget(self, user_id: str, site: str | None) -> dict[str, int]:
        where = "user_id = ?" + (" AND site = ?" if site is not None else "")
        args = [user_id] + ([site] if site is not None else [])

        def work() -> dict[str, int]:
            resumes = self.db.execute(f'SELECT count(*) FROM "{RESUME}" WHERE {where}', args).fetchone()[0]
            return {RESUME: resumes,
                    TUTORIALS: self.db.execute(f'DELETE FROM "{TUTORIALS}" WHERE {where}', args).rowcount}

        return self.store.transaction(work)
