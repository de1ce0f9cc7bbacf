"""The store interface: what the drainer writes through and the read API reads from.

Two implementations pass one conformance suite (tests/test_store_conformance.py):
`sqlite://` (embedded default) and `mongodb://` (production).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from footfall.codec import Invalid, loads, with_datetimes
from footfall.schemas import BY_COLLECTION

if TYPE_CHECKING:
    from footfall.settings import Settings


class StoreUnavailable(Exception):
    """The store cannot take writes now (down, locked, read-only); the caller keeps the batch and retries."""


@dataclass
class WriteResult:
    """What became of a batch: duplicates are expected (redelivery), invalid ones go to dead letters."""

    inserted: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, reason)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    stream: str
    reason: str
    raw: str
    failed_at: datetime
    file: str | None = None  # an imported line's file and line number
    line: int | None = None

    def as_document(self) -> dict[str, Any]:
        doc = {"_id": self.id, "stream": self.stream, "reason": self.reason, "raw": self.raw,
               "failed_at": self.failed_at}
        if self.file is not None:
            doc |= {"file": self.file, "line": self.line}
        return doc


class Store(Protocol):
    engine: str  # "sqlite" or "mongodb": which adapter a part of derived data uses here

    def init(self) -> None:
        """Create collections, validators and indexes; safe to run again."""

    def insert(self, collection: str, docs: Sequence[dict[str, Any]]) -> WriteResult:
        """Write documents keyed by `_id`; a document already there is a duplicate, not an error."""

    def insert_json(self, collection: str, raws: Sequence[bytes]) -> WriteResult:
        """Write documents as they are queued (JSON, `codec.encode`), as `insert` does.

        The store decodes only what it needs: SQLite keeps valid canonical JSON as it is, unbuilt.
        What is not a document at all is reported as invalid ("undecodable: …"), like what fails validation.
        """

    def upsert(self, collection: str, docs: Sequence[dict[str, Any]]) -> int:
        """Write documents keyed by `_id`, replacing what is there (reference data, not events); a document
        that fails validation raises `Invalid` and nothing is written."""

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Keep what could not be stored, with why; idempotent by id."""

    def get(self, collection: str, id: str) -> dict[str, Any] | None: ...

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        """Documents whose top-level fields equal the given scalar values (None: null or missing)."""

    def count(self, collection: str) -> int: ...

    def in_time_order(self, collection: str, since: datetime | None = None, until: datetime | None = None,
                      **equals: str) -> Iterator[dict[str, Any]]:
        """Documents whose fields equal the given values, with since <= timestamp < until, oldest first,
        streamed (for an index on those fields and the time)."""

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete raw events received before `before` (dead letters: failed before); counts per collection."""

    def forget(self, user_id: str, site: str | None = None) -> dict[str, int]:
        """Erase one user's raw events, dead letters included (right to erasure; `footfall.parts.forget`
        erases derived data too, then `purge`s)."""

    def purge(self) -> None:
        """Leave no copy of deleted documents behind (SQLite: zeroed pages, and its log copied in and
        truncated); called after an erasure."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None: ...


class Batch(list[bytes]):
    """A drained batch of queued JSON, decoded at most once for everything that reads it: the store that
    needs documents (MongoDB) and the parts that fold its events (`footfall.parts`)."""

    @classmethod
    def of(cls, raws: Sequence[bytes]) -> Batch:
        return raws if isinstance(raws, Batch) else cls(raws)

    @cached_property
    def documents(self) -> list[Any]:
        """Each event decoded (times as the canonical text they are queued as), or the `Invalid` it gave."""
        out: list[Any] = []
        for raw in self:
            try:
                out.append(loads(raw))
            except Invalid as exc:
                out.append(exc)
        return out

    def stored(self, result: WriteResult) -> list[dict[str, Any]]:
        """The events the store took (new or already there), for the parts to fold."""
        refused = {i for i, _ in result.invalid}
        return [doc for i, doc in enumerate(self.documents) if i not in refused and isinstance(doc, dict)]


def decode_all(collection: str, batch: Batch, result: WriteResult, only: Sequence[int] | None = None
               ) -> list[tuple[int, dict[str, Any]]]:
    """A batch's documents (with their index in the batch; only those at `only`, if given), times as
    datetimes; what is not a document is reported in `result`."""
    stream = BY_COLLECTION[collection]
    docs = []
    for i in range(len(batch)) if only is None else only:
        try:
            docs.append((i, with_datetimes(batch.documents[i], stream)))
        except Invalid as exc:
            result.invalid.append((i, f"undecodable: {exc}"))
    return docs


def raw_fragment(name: str, value: str) -> str:
    """How a field looks inside a queued event's JSON (no spaces, as `codec.encode` writes it): a dead letter
    keeps the event as text, and this is how erasure finds a user's in it."""
    return f'"{name}":' + orjson.dumps(value).decode()


def check_scalars(equals: dict[str, Any]) -> None:
    """Look-ups compare scalars only: an object can never smuggle in a query operator."""
    for name, value in equals.items():
        if not isinstance(value, str | int | float | bool | datetime) and value is not None:
            raise TypeError(f"{name}: look-ups take scalar values, not {type(value).__name__}")


def store_from(settings: Settings) -> Store:
    """The configured store."""
    return open_store(settings.store_url, mongo_write_concern=settings.mongo_write_concern,
                      mongo_timeout_ms=settings.mongo_timeout_ms, retention_days=settings.retention_days)


def open_store(url: str, *, mongo_write_concern: str = "majority", mongo_timeout_ms: int = 5000,
               retention_days: int = 0) -> Store:
    if url.startswith("sqlite://"):
        from footfall.stores.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from footfall.stores.mongo import MongoStore

        return MongoStore(url, write_concern=mongo_write_concern, timeout_ms=mongo_timeout_ms,
                          retention_days=retention_days)
    raise ValueError(f"FOOTFALL_STORE_URL must start with sqlite:// or mongodb://, not {url.split(':')[0]!r}")
