"""Tutorial progress: folding raw video events into one document per learner and tutorial.

Every fold is idempotent and order-tolerant: a document holds only facts that commutative operations
build (`$addToSet` of watched minutes and visits, `$max` of the latest position, `$min`/`$max` of
times), and completion is derived from those facts. Redelivered or late events change nothing they
should not; identifiers are values in the document, never field names or key paths.

Completion is earned by coverage, not by the playhead: the learner must have watched at least
`threshold` of the video's minutes (a seek to the end watches nothing). A learner's own mark wins: a
"complete" mark completes; an "incomplete" mark holds against the coverage rule until they mark it
complete again or start a new visit (a new page view of the tutorial).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

import orjson

from footfall.codec import CANONICAL_TIME, format_datetime, parse_datetime

TUTORIALS = "tutorial_progress"
RESUME = "resume_points"
PROGRESS_COLLECTIONS = (TUTORIALS, RESUME)
IDENTITY = ("site", "user_id", "foss", "language", "tutorial")
LEARNER = IDENTITY[:4]  # whose course: a resume point's identity


def key(*parts: str) -> str:
    """A document id made from identifiers, without ever joining them into a path."""
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:40]  # a JSON array of the parts


class TutorialFold:
    """Everything one batch says about one learner's tutorial, merged before it is written.

    Times are canonical text (`format_datetime`), which sorts as the times do: the embedded store
    keeps them so, and MongoDB turns them back into dates."""

    __slots__ = ("duration", "first_at", "last", "last_at", "names", "visits", "watched")

    def __init__(self, names: tuple[str, ...], last: tuple[str, float, str]) -> None:
        self.names = names  # site, user_id, foss, language, tutorial
        self.watched: set[tuple[int, str]] = set()  # (minute, when)
        self.visits: set[str] = set()
        self.last = last  # (at, position, visit): the highest wins, as $max does
        self.first_at = self.last_at = last[0]
        self.duration: float | None = None

    @property
    def id(self) -> str:
        return key(*self.names)

    @property
    def identity(self) -> dict[str, str]:
        return dict(zip(IDENTITY, self.names, strict=True))


def folds(events: Iterable[dict[str, Any]]) -> list[TutorialFold]:
    """The per-tutorial updates a batch of raw progress events makes (their times as
    datetimes, or as the canonical text the collector queues, taken as it is).

    Only a known learner's events about an identified tutorial count; the rest stay raw events."""
    tutorials: dict[tuple[str, ...], TutorialFold] = {}
    for e in events:
        user, foss, tutorial = e.get("user_id"), e.get("foss"), e.get("tutorial")
        if not (user and foss and tutorial):
            continue
        names = (e["site"], user, foss, e.get("language_name") or "", tutorial)
        at = e["timestamp"]
        if type(at) is not str or not CANONICAL_TIME(at):
            at = format_datetime(parse_datetime(at))
        position, visit = float(e["position"]), e.get("page_view_id") or ""
        here = (at, position, visit)
        fold = tutorials.get(names)
        if fold is None:
            fold = tutorials[names] = TutorialFold(names, here)
        else:
            if here > fold.last:
                fold.last = here
            if at < fold.first_at:
                fold.first_at = at
            elif at > fold.last_at:
                fold.last_at = at
        if visit:
            fold.visits.add(visit)
        if e["type"] == "video_progress" and (minute := e.get("minute")) is not None:
            fold.watched.add((minute, at))
        if (duration := e.get("duration")) and (fold.duration is None or duration > fold.duration):
            fold.duration = float(duration)
    return list(tutorials.values())


def resume_points(tutorials: Iterable[TutorialFold]) -> dict[tuple[str, ...], tuple[str, str, float]]:
    """Where each learner (site, user_id, foss, language) was last in a course: the latest (at, tutorial,
    position) of their tutorials, compared in the order MongoDB's $max compares a stored point's fields.

    A tutorial's last is its latest (at, position), so this is the latest of all the events too."""
    points: dict[tuple[str, ...], tuple[str, str, float]] = {}
    for fold in tutorials:
        at, position, _ = fold.last
        learner, tutorial = fold.names[:4], fold.names[4]
        if (point := points.get(learner)) is None or (at, tutorial, position) > point:
            points[learner] = (at, tutorial, position)
    return points


def apply(doc: dict[str, Any] | None, fold: TutorialFold) -> dict[str, Any]:
    """The fold applied to a stored document's facts (times as text; who and which tutorial are kept beside
    them): the embedded store's way of doing what MongoDB's $addToSet, $max and $min do with the same fold.
    The property test in the conformance suite holds each store to order- and batching-independence."""
    at, position, visit = fold.last
    if doc is None:
        new = {"watched": [{"minute": m, "at": t} for m, t in sorted(fold.watched)],
               "visits": sorted(fold.visits), "last": {"at": at, "position": position, "visit": visit},
               "first_watched_at": fold.first_at, "last_watched_at": fold.last_at}
        if fold.duration is not None:
            new["duration"] = fold.duration
        return new
    doc = dict(doc)
    if fold.watched:
        seen = {(w["minute"], w["at"]) for w in doc["watched"]}
        if more := [{"minute": m, "at": t} for m, t in sorted(fold.watched) if (m, t) not in seen]:
            doc["watched"] = doc["watched"] + more
    if new_visits := fold.visits.difference(doc["visits"]):
        doc["visits"] = doc["visits"] + sorted(new_visits)
    last = doc.get("last")
    if last is None or fold.last > (last["at"], last["position"], last["visit"]):
        doc["last"] = {"at": at, "position": position, "visit": visit}
    if (first := doc.get("first_watched_at")) is None or fold.first_at < first:
        doc["first_watched_at"] = fold.first_at
    if (latest := doc.get("last_watched_at")) is None or fold.last_at > latest:
        doc["last_watched_at"] = fold.last_at
    if fold.duration is not None and fold.duration > (doc.get("duration") or 0.0):
        doc["duration"] = fold.duration
    return doc


def derive(doc: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Completion and coverage, computed from the document's facts."""
    duration = doc.get("duration") or 0.0
    total = max(1, math.ceil(duration / 60)) if duration else None
    first_seen: dict[int, Any] = {}  # minute: when first watched (datetimes, or canonical text)
    for w in doc.get("watched", ()):
        minute, at = w["minute"], w["at"]
        if (seen := first_seen.get(minute)) is None or at < seen:
            first_seen[minute] = at
    minutes = sorted(first_seen if total is None else [m for m in first_seen if m < total])
    coverage, earned_at = 0.0, None
    if total:
        coverage = min(1.0, len(minutes) / total)
        needed = math.ceil(threshold * total - 1e-9)
        if len(minutes) >= needed:
            earned_at = sorted([first_seen[m] for m in minutes])[needed - 1]

    mark = doc.get("mark")
    completed, by, at = earned_at is not None, "coverage", earned_at
    if mark and mark["state"] == "complete":
        completed, by, at = True, "learner", mark["at"]
    elif mark and mark["state"] == "incomplete" and completed:
        last = doc.get("last")
        completed = last is not None and last.get("visit") != mark.get("visit") and last["at"] > mark["at"]
    return {
        "minutes_watched": minutes,
        "minutes_total": total,
        "coverage": round(coverage, 4),
        "visit_count": len(doc.get("visits", ())),
        "completed": completed,
        "completed_by": by if completed else None,
        "completed_at": at if completed else None,
    }
