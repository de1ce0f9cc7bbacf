"""Tracking-log lines → `edx_events`, in batches, with a ledger entry per file and bad lines dead-lettered.

An import never aborts a file for a line: a line that cannot be an event goes to `dead_letters` with its
file, line number and reason (`events.Refused`), and the summary counts lines by what became of them.
Everything it writes is keyed by content (events by their time and line, dead letters by file, line
and content), so an import interrupted anywhere and run again ends with the same events and dead letters
as one clean run; only its ledger says that the second run found the first one's events already there.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from footfall.addresses import anonymize
from footfall.edx.events import Refused, normalise
from footfall.edx.files import Source, lines
from footfall.schemas import EDX_EVENTS, IMPORTS
from footfall.scrub import Scrubber
from footfall.stores import DeadLetter, Store, StoreUnavailable

BATCH = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    """What an import keeps: these courses (exact ids; none: all), these days (UTC, inclusive)."""

    courses: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None

    def keep(self, doc: dict[str, Any]) -> bool:
        if self.courses and doc.get("course_id") not in self.courses:
            return False
        day = doc["timestamp"].date()
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


@dataclass
class FileReport:
    """What became of one file's lines (the ledger entry, and the summary's row)."""

    file: str
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    filtered: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "lines": self.lines, "stored": self.stored, "duplicates": self.duplicates,
                "skipped": self.skipped, "filtered": self.filtered, "refused": dict(self.refused)}


def retrying(step: Callable[[], T], attempts: int = 12) -> T:
    """A store that is busy (another import holding SQLite's lock, a MongoDB election) is waited for, with
    backoff, for about a minute; then the import stops, and running it again resumes it."""
    for attempt in range(attempts):
        try:
            return step()
        except StoreUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(min(10.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")


class Importer:
    def __init__(self, store: Store, *, site: str = "edx", filters: Filters = Filters(), ip_anonymize: str = "none",
                 scrubber: Scrubber | None = None, batch: int = BATCH) -> None:
        self.store, self.site, self.filters, self.batch = store, site, filters, batch
        self.ip_anonymize = ip_anonymize
        self.scrubber = scrubber or Scrubber()

    def run(self, sources: Iterable[Source], progress: Callable[[Source, int], None] | None = None
            ) -> list[FileReport]:
        return [self.file(source, progress) for source in sources]

    def file(self, source: Source, progress: Callable[[Source, int], None] | None = None) -> FileReport:
        started = datetime.now(UTC)
        report = FileReport(source.name)
        self.consume(lines(source), report, started, (lambda n: progress(source, n)) if progress else None)
        self.ledger(report, source.size, source.sha256.hexdigest(), started)
        return report

    def consume(self, numbered: Iterable[tuple[int, bytes, bool]], report: FileReport, started: datetime,
                progress: Callable[[int], None] | None = None) -> None:
        """Lines (number, bytes, truncated) into the store, counted in the report."""
        docs: list[dict[str, Any]] = []
        letters: list[DeadLetter] = []
        for number, line, truncated in numbered:
            report.lines = number
            if not line.strip() or line.lstrip().startswith(b"#"):
                report.skipped += 1
                continue
            try:
                if truncated:
                    raise Refused("truncated (the gzip stream ends before the line does)")
                doc = normalise(line, site=self.site, received_at=started, file=report.file, number=number)
            except Refused as exc:
                report.refused[str(exc)] += 1
                letters.append(self.letter(report.file, number, line, str(exc), started))
            else:
                if self.filters.keep(doc):
                    docs.append(self.private(doc))
                else:
                    report.filtered += 1
            if len(docs) + len(letters) >= self.batch:
                self.write(docs, letters, report, started)
                docs, letters = [], []
                if progress:
                    progress(number)
        self.write(docs, letters, report, started)
        if progress:
            progress(report.lines)

    def ledger(self, report: FileReport, size: int, sha256: str, started: datetime) -> None:
        self.store.insert(IMPORTS.collection, [{
            "_id": f"{sha256}-{started.isoformat()}", "type": "edx", "site": self.site, "size": size,
            "sha256": sha256, "started_at": started, "finished_at": datetime.now(UTC), **report.as_dict()}])

    def private(self, doc: dict[str, Any]) -> dict[str, Any]:
        """FOOTFALL_IP_ANONYMIZE and the secret scrubber, as for Footfall's own events."""
        original = doc["edx"]
        if "ip" in doc:
            doc["ip"] = anonymize(doc["ip"], self.ip_anonymize)
            original["ip"] = doc["ip"]
        self.scrubber.event(doc, free=())
        for name in ("page", "referer"):
            if isinstance(original.get(name), str):
                original[name] = self.scrubber.url(original[name])
        if isinstance(original.get("event"), dict | list):
            original["event"] = self.scrubber.tree(original["event"])
        elif isinstance(original.get("event"), str) and "=" in original["event"]:
            original["event"] = self.scrubber.query(original["event"])  # a POST body as key=value pairs
        return {k: v for k, v in doc.items() if v is not None}

    def write(self, docs: list[dict[str, Any]], letters: list[DeadLetter], report: FileReport, now: datetime) -> None:
        if docs:
            result = retrying(lambda: self.store.insert(EDX_EVENTS.collection, docs))
            report.stored += result.inserted
            report.duplicates += result.duplicates
            for i, reason in result.invalid:
                report.refused["document failed validation"] += 1
                letters.append(self.letter(report.file, docs[i].get("line"), repr(docs[i]["edx"]).encode(), reason,
                                           now))
        if letters:
            retrying(lambda: self.store.dead_letter(letters))

    @staticmethod
    def letter(file: str, number: int | None, line: bytes, reason: str, now: datetime) -> DeadLetter:
        key = hashlib.sha256(f"{file}\n{number}\n".encode() + line).hexdigest()[:32]
        return DeadLetter(f"edx-{key}", EDX_EVENTS.name, reason, line.decode("utf-8", "replace")[:65536], now,
                          file=file, line=number)
