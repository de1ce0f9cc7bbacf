"""Every part of derived data Footfall keeps, and the hooks that reach them all.

Adding a part (the analysis half's visits, sessions, viewings) is one line in `PARTS`: the drainer folds
its streams' batches into it, `footfall init-db` creates its collections and `footfall forget` erases it.
"""

from __future__ import annotations

from footfall.derived import Part
from footfall.progress import PROGRESS
from footfall.stores import Store

PARTS: tuple[Part, ...] = (PROGRESS,)


def following(stream: str) -> list[Part]:
    """The parts that fold a stream's events."""
    return [part for part in PARTS if stream in part.streams]


def init(store: Store) -> None:
    """The raw collections, then every part's."""
    store.init()
    for part in PARTS:
        part.init(store)


def forget(store: Store, user_id: str, site: str | None = None) -> dict[str, int]:
    """Erase one user everywhere: raw events, then every part's documents (right to erasure)."""
    counts = store.forget(user_id, site)
    for part in PARTS:
        counts.update(part.forget(store, user_id, site))
    store.purge()
    return counts
