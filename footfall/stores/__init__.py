"""The store interface: what the drainer writes through and the read API reads from.

Two implementations pass one conformance suite (tests/test_store_conformance.py):
`sqlite://` (embedded default) and `mongodb://` (production).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from footfall.schemas import BY_COLLECTION, Invalid, decode

if TYPE_CHECKING:
    from footfall.progress import TutorialFold
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

    def as_document(self) -> dict[str, Any]:
        return {"_id": self.id, "stream": self.stream, "reason": self.reason, "raw": self.raw,
                "failed_at": self.failed_at}


class Store(Protocol):
    def init(self) -> None:
        """Create collections, validators and indexes; safe to run again."""

    def insert(self, collection: str, docs: Sequence[dict[str, Any]]) -> WriteResult:
        """Write documents keyed by `_id`; a document already there is a duplicate, not an error."""

    def insert_json(self, collection: str, raws: Sequence[bytes]) -> WriteResult:
        """Write documents as they are queued (JSON, `schemas.encode`), as `insert` does.

        The store decodes only what it needs: SQLite keeps valid canonical JSON as it is, unbuilt.
        What is not a document at all is reported as invalid ("undecodable: …"), like what fails validation.
        """

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Keep what could not be stored, with why; idempotent by id."""

    def get(self, collection: str, id: str) -> dict[str, Any] | None: ...

    def find(self, collection: str, limit: int = 1000, **equals: Any) -> list[dict[str, Any]]:
        """Documents whose top-level fields equal the given scalar values (None: null or missing)."""

    def count(self, collection: str) -> int: ...

    def fold_progress(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """Fold a batch's progress into per-learner documents and resume points (idempotent, order-tolerant)."""

    def mark_progress(self, identity: dict[str, str], state: str, at: datetime, visit: str,
                      threshold: float) -> dict[str, Any]:
        """Record a learner's own complete/incomplete mark; returns the tutorial's document."""

    def progress(self, site: str, user_id: str, foss: str, language: str
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One learner's tutorial documents in a course, and where to resume it."""

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete raw events received before `before` (dead letters: failed before); counts per collection."""

    def forget(self, user_id: str, site: str | None = None) -> dict[str, int]:
        """Erase one user's events and progress (right to erasure); counts per collection."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None: ...


def decode_all(collection: str, raws: Sequence[tuple[int, bytes]], result: WriteResult
               ) -> list[tuple[int, dict[str, Any]]]:
    """Queued JSON (with its index in the batch) back into documents; the rest is reported in `result`."""
    stream = BY_COLLECTION[collection]
    docs = []
    for i, raw in raws:
        try:
            docs.append((i, decode(raw, stream)))
        except Invalid as exc:
            result.invalid.append((i, f"undecodable: {exc}"))
    return docs


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
