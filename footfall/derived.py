"""The one shape of data derived from raw events (tutorial progress now; visits, sessions, video viewings
and statistics as the analysis half adds them).

A part of derived data owns everything about itself: the rule that folds raw events into its documents,
the collections it keeps them in (one adapter per store, beside the store's raw collections), how a
person's share of it is erased, and how it is read. The drainer, `footfall init-db` and `footfall forget`
reach every part through `footfall.parts`, never through a special case of their own; stores know
nothing of the parts above them.

A fold must be idempotent and independent of order and batching: the drainer folds a batch again when
it is redelivered, and late events arrive in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from footfall.settings import Settings
from footfall.stores import Store


class Part(Protocol):
    streams: frozenset[str]  # the streams whose stored events it folds

    def init(self, store: Store) -> None:
        """Create its collections (and migrate old layouts); safe to run again, from several processes."""

    def fold(self, store: Store, events: Sequence[dict[str, Any]], settings: Settings) -> None:
        """Fold stored events (times as datetimes or as queued canonical text) into its documents."""

    def forget(self, store: Store, user_id: str, site: str | None) -> dict[str, int]:
        """Erase one user's derived documents; counts per collection."""
