"""Tutorial progress: folding raw video events into one document per learner and tutorial.

Every fold is idempotent and order-tolerant: a document holds only facts that commutative operations
build (the earliest time each segment was played, `$min`; the latest position, `$max`; the page views
seen, `$addToSet`), and completion is derived from those facts. Redelivered or late events change nothing
they should not; identifiers are values in the document, never field names or key paths.

Completion is earned by coverage of what was *played*, never by the playhead. The tracker reports the
5-second segments of media time (segment s covers [5s, 5s + 5)) that the browser's own record of played
ranges (`HTMLMediaElement.played`) touches, so a seek, a jump or a scrub credits nothing whatever order the
browser fires its events in. Coverage = played segments / ⌈duration / 5⌉; a tutorial completes when it
reaches `threshold` (0.8), at the time the segment that reached it was first played. Playing 0–20 s and
140–150 s of a 150 s video covers segments 0–3 and 28–29: 6 of 30, 20 %.

A learner's own mark wins: a "complete" mark completes; an "incomplete" mark holds against the coverage
rule until they mark it complete again or start a new visit (a new page view of the tutorial).

A document's size is bounded by the video, not by the events that arrive: at most one time per segment
(at most `MAX_SEGMENTS`, ten hours; segments past a known duration are ignored), and the first
`MAX_VISITS` page views (the smallest ids: UUIDv7 page views sort by time) are kept; beyond that the
visit count stays at `MAX_VISITS`.

Documents written before segments (the old minute rule) keep their credit: each watched minute m counts
as segments 12m to 12m + 11.
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
SEGMENT_S = 5  # seconds of media time in a segment (the video timelines' segments too)
MAX_SEGMENTS = 7200  # ten hours of video
MAX_VISITS = 1000


def key(*parts: str) -> str:
    """A document id made from identifiers, without ever joining them into a path."""
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:40]  # a JSON array of the parts


class TutorialFold:
    """Everything one batch says about one learner's tutorial, merged before it is written.

    Times are canonical text (`format_datetime`), which sorts as the times do: the embedded store
    keeps them so, and MongoDB turns them back into dates."""

    __slots__ = ("duration", "first_at", "last", "last_at", "names", "segments", "visits")

    def __init__(self, names: tuple[str, ...], last: tuple[str, float, str]) -> None:
        self.names = names  # site, user_id, foss, language, tutorial
        self.segments: dict[int, str] = {}  # segment: when it was first played
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
        for segment in played(e.get("segments")):
            if (seen := fold.segments.get(segment)) is None or at < seen:
                fold.segments[segment] = at
        if (duration := e.get("duration")) and (fold.duration is None or duration > fold.duration):
            fold.duration = float(duration)
    return list(tutorials.values())


def played(segments: Any) -> list[int]:
    """The segments an event says were played: whole numbers within ten hours; anything else is ignored
    (a client's word about its own learner, so never an error)."""
    if not isinstance(segments, list):
        return []
    return [s for s in segments if type(s) is int and 0 <= s < MAX_SEGMENTS]


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
    them): the embedded store's way of doing what MongoDB's $min, $max and $addToSet do with the same fold.
    The property test in the conformance suite holds each store to order- and batching-independence."""
    at, position, visit = fold.last
    doc = dict(doc) if doc is not None else {"segments": {}, "visits": []}
    segments = dict(doc.get("segments") or {})
    for segment, when in fold.segments.items():
        if (seen := segments.get(str(segment))) is None or when < seen:
            segments[str(segment)] = when
    doc["segments"] = segments
    if new_visits := fold.visits.difference(doc["visits"]):
        doc["visits"] = first_visits(doc["visits"] + sorted(new_visits))
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


def first_visits(visits: list[str]) -> list[str]:
    """The page views a document keeps: the first MAX_VISITS ids (any order of arrival keeps the same)."""
    return sorted(set(visits))[:MAX_VISITS]


def first_played(doc: dict[str, Any]) -> dict[int, Any]:
    """Segment: when it was first played (times as datetimes, or canonical text), legacy minutes included."""
    seen: dict[int, Any] = {int(s): at for s, at in (doc.get("segments") or {}).items()}
    per_minute = 60 // SEGMENT_S
    for w in doc.get("watched", ()):  # documents from before segments: a minute credited whole
        for segment in range(w["minute"] * per_minute, (w["minute"] + 1) * per_minute):
            if (at := seen.get(segment)) is None or w["at"] < at:
                seen[segment] = w["at"]
    return seen


def derive(doc: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Completion and coverage, computed from the document's facts."""
    duration = doc.get("duration") or 0.0
    total = min(MAX_SEGMENTS, max(1, math.ceil(duration / SEGMENT_S))) if duration else None
    seen = first_played(doc)
    segments = sorted(seen if total is None else [s for s in seen if s < total])
    coverage, earned_at = 0.0, None
    if total:
        coverage = min(1.0, len(segments) / total)
        needed = math.ceil(threshold * total - 1e-9)
        if len(segments) >= needed:
            earned_at = sorted([seen[s] for s in segments])[needed - 1]

    mark = doc.get("mark")
    completed, by, at = earned_at is not None, "coverage", earned_at
    if mark and mark["state"] == "complete":
        completed, by, at = True, "learner", mark["at"]
    elif mark and mark["state"] == "incomplete" and completed:
        last = doc.get("last")
        completed = last is not None and last.get("visit") != mark.get("visit") and last["at"] > mark["at"]
    return {
        "segments_watched": len(segments),
        "segments_total": total,
        "coverage": round(coverage, 4),
        "visit_count": len(doc.get("visits", ())),
        "completed": completed,
        "completed_by": by if completed else None,
        "completed_at": at if completed else None,
    }
