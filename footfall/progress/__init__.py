"""Tutorial progress, a part of derived data (see `footfall.derived`): everything about it is here.

- `fold`: the rules — raw video events folded into one document per learner and tutorial, and what
  completes a tutorial;
- `sqlite`, `mongo`: where each store keeps those documents (and resume points), written and read;
- `view`: what the learner's progress API answers.

The drainer reaches it through `footfall.parts`; the collector's progress endpoints through `progress_in(store)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from footfall.progress.fold import (
    IDENTITY,
    LEARNER,
    PROGRESS_COLLECTIONS,
    RESUME,
    TUTORIALS,
    TutorialFold,
    folds,
    key,
    resume_points,
)
from footfall.progress.view import course_view, tutorial_view
from footfall.schemas import TUTORIAL_PROGRESS
from footfall.settings import Settings
from footfall.stores import Store

__all__ = ["IDENTITY", "LEARNER", "PROGRESS", "PROGRESS_COLLECTIONS", "RESUME", "TUTORIALS", "ProgressStore",
           "TutorialFold", "course_view", "folds", "key", "progress_in", "resume_points", "tutorial_view"]


class ProgressStore(Protocol):
    """Tutorial progress as one store keeps it."""

    def init(self) -> None: ...

    def fold(self, tutorials: Sequence[TutorialFold], threshold: float) -> None:
        """Fold a batch's progress into per-learner documents and resume points (idempotent, order-tolerant)."""

    def mark(self, identity: dict[str, str], state: str, at: datetime, visit: str,
             threshold: float) -> dict[str, Any]:
        """Record a learner's own complete/incomplete mark; returns the tutorial's document."""

    def read(self, site: str, user_id: str, foss: str, language: str
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One learner's tutorial documents in a course, and where to resume it."""

    def forget(self, user_id: str, site: str | None) -> dict[str, int]: ...


def progress_in(store: Store) -> ProgressStore:
    """Tutorial progress in this store (chosen by its engine, so that a wrapped store works too)."""
    if store.engine == "sqlite":
        from footfall.progress.sqlite import SQLiteProgress

        return SQLiteProgress(store)  # type: ignore[arg-type]
    from footfall.progress.mongo import MongoProgress

    return MongoProgress(store)  # type: ignore[arg-type]


class Progress:
    """The part: folds the tutorial_progress stream's events."""

    streams = frozenset({TUTORIAL_PROGRESS.name})

    def init(self, store: Store) -> None:
        progress_in(store).init()

    def fold(self, store: Store, events: Sequence[dict[str, Any]], settings: Settings) -> None:
        if tutorials := folds(events):
            progress_in(store).fold(tutorials, settings.completion_threshold)

    def forget(self, store: Store, user_id: str, site: str | None) -> dict[str, int]:
        return progress_in(store).forget(user_id, site)


PROGRESS = Progress()
