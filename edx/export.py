"""One course's events, out of the store, in time order, streamed (the per-course extraction analysts start
from): JSON lines (the whole document, times in canonical UTC text) or CSV (the normalised fields)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from footfall.codec import encode, format_datetime
from footfall.schemas import EDX_EVENTS
from footfall.stores import Store

# CSV: every normalised field, in the schema's order; the original event and the import's place stay out.
COLUMNS = [name for name in EDX_EVENTS.fields if name not in ("edx", "file", "line")]


def events(store: Store, course: str, since: datetime | None, until: datetime | None) -> Iterator[dict[str, Any]]:
    return store.in_time_order(EDX_EVENTS.collection, since, until, course_id=course)


def write(docs: Iterator[dict[str, Any]], out: IO[str], form: str) -> int:
    """Write documents as they come; how many were written."""
    n = 0
    if form == "jsonl":
        for n, doc in enumerate(docs, 1):  # noqa: B007
            out.write(encode(doc).decode() + "\n")
        return n
    table = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
    table.writeheader()
    for n, doc in enumerate(docs, 1):  # noqa: B007
        table.writerow({k: format_datetime(v) if isinstance(v, datetime) else v for k, v in doc.items()})
    return n
