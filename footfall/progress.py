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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

TUTORIALS = "tutorial_progress"
RESUME = "resume_points"
PROGRESS_COLLECTIONS = (TUTORIALS, RESUME)
IDENTITY = ("site", "user_id", "foss", "language", "tutorial")


def key(*parts: str) -> str:
    """A document id made from identifiers, without ever joining them into a path."""
    return hashlib.sha256(orjson.dumps(list(parts))).hexdigest()[:40]


@dataclass
class TutorialFold:
    """Everything one batch says about one learner's tutorial, merged before it is written."""

    id: str
    identity: dict[str, str]
    watched: set[tuple[int, datetime]] = field(default_factory=set)  # (minute, when)
    visits: set[str] = field(default_factory=set)
    last: dict[str, Any] | None = None  # {"at", "position", "visit"}: the latest event wins
    first_at: datetime | None = None
    last_at: datetime | None = None
    duration: float | None = None


@dataclass
class ResumeFold:
    id: str
    identity: dict[str, str]  # site, user_id, foss, language
    last: dict[str, Any]  # {"at", "tutorial", "position"}


def latest(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Of two {at, position, …} records, the later (the position breaks ties, as $max does)."""
    return b if a is None or (b["at"], b.get("position", 0)) > (a["at"], a.get("position", 0)) else a


def folds(events: Iterable[dict[str, Any]]) -> tuple[list[TutorialFold], list[ResumeFold]]:
    """The per-tutorial and per-course updates a batch of raw progress events makes.

    Only a known learner's events about an identified tutorial count; the rest stay raw events."""
    tutorials: dict[tuple[str, ...], TutorialFold] = {}
    resumes: dict[tuple[str, ...], ResumeFold] = {}
    for e in events:
        if not (e.get("user_id") and e.get("foss") and e.get("tutorial")):
            continue
        names = (e["site"], e["user_id"], e["foss"], e.get("language_name") or "", e["tutorial"])
        fold = tutorials.get(names)
        if fold is None:
            fold = tutorials[names] = TutorialFold(key(*names), dict(zip(IDENTITY, names, strict=True)))
        at, visit = e["timestamp"], e.get("page_view_id") or ""
        if visit:
            fold.visits.add(visit)
        if e["type"] == "video_progress" and e.get("minute") is not None:
            fold.watched.add((e["minute"], at))
        fold.last = latest(fold.last, {"at": at, "position": float(e["position"]), "visit": visit})
        fold.first_at = min(fold.first_at or at, at)
        fold.last_at = max(fold.last_at or at, at)
        if e.get("duration"):
            fold.duration = max(fold.duration or 0.0, float(e["duration"]))
        here = {"at": at, "tutorial": e["tutorial"], "position": float(e["position"])}
        resume = resumes.get(names[:4])
        if resume is None:
            resumes[names[:4]] = ResumeFold(key(*names[:4]), dict(zip(IDENTITY[:4], names, strict=False)), here)
        else:
            resume.last = latest(resume.last, here)
    return list(tutorials.values()), list(resumes.values())


def apply(doc: dict[str, Any] | None, fold: TutorialFold) -> dict[str, Any]:
    """The fold applied to a stored document, with the semantics of the MongoDB operators it uses
    ($setOnInsert, $addToSet, $max, $min): the embedded store's way, and the reference for both."""
    doc = dict(doc) if doc else {"_id": fold.id, **fold.identity, "watched": [], "visits": []}
    seen = {(w["minute"], w["at"]) for w in doc["watched"]}
    doc["watched"] = doc["watched"] + [{"minute": m, "at": at} for m, at in sorted(fold.watched) if (m, at) not in seen]
    doc["visits"] = doc["visits"] + sorted(fold.visits - set(doc["visits"]))
    if fold.last is not None:
        doc["last"] = latest(doc.get("last"), fold.last)
    if fold.first_at is not None:
        doc["first_watched_at"] = min(doc.get("first_watched_at") or fold.first_at, fold.first_at)
    if fold.last_at is not None:
        doc["last_watched_at"] = max(doc.get("last_watched_at") or fold.last_at, fold.last_at)
    if fold.duration is not None:
        doc["duration"] = max(doc.get("duration") or 0.0, fold.duration)
    return doc


def derive(doc: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Completion and coverage, computed from the document's facts."""
    duration = doc.get("duration") or 0.0
    total = max(1, math.ceil(duration / 60)) if duration else None
    first_seen: dict[int, datetime] = {}
    for w in doc.get("watched", []):
        if w["minute"] not in first_seen or w["at"] < first_seen[w["minute"]]:
            first_seen[w["minute"]] = w["at"]
    minutes = sorted(m for m in first_seen if total is None or m < total)
    coverage = min(1.0, len(minutes) / total) if total else 0.0
    needed = math.ceil(threshold * total - 1e-9) if total else None
    earned_at = sorted(first_seen[m] for m in minutes)[needed - 1] if needed and len(minutes) >= needed else None

    mark, last = doc.get("mark"), doc.get("last")
    completed, by, at = earned_at is not None, "coverage", earned_at
    if mark and mark["state"] == "complete":
        completed, by, at = True, "learner", mark["at"]
    elif mark and mark["state"] == "incomplete":
        new_visit = last is not None and last.get("visit") != mark.get("visit") and last["at"] > mark["at"]
        completed = completed and new_visit
    return {
        "minutes_watched": minutes,
        "minutes_total": total,
        "coverage": round(coverage, 4),
        "visit_count": len(doc.get("visits", [])),
        "completed": completed,
        "completed_by": by if completed else None,
        "completed_at": at if completed else None,
    }


def mongo_validator(identity: Iterable[str]) -> dict[str, Any]:
    """Progress documents must name whose progress they are, as strings (values, never keys)."""
    names = list(identity)
    return {"$jsonSchema": {"bsonType": "object", "required": ["_id", *names],
                            "properties": {n: {"bsonType": "string", "maxLength": 256} for n in ["_id", *names]}}}


def tutorial_view(doc: dict[str, Any], threshold: float) -> dict[str, Any]:
    """What the read API shows of one tutorial."""
    derived = derive(doc, threshold)
    last = doc.get("last") or {}
    mark = doc.get("mark")
    return {
        "tutorial": doc["tutorial"],
        "completed": derived["completed"],
        "completed_by": derived["completed_by"],
        "completed_at": derived["completed_at"],
        "marked": mark["state"] if mark else None,
        "coverage": derived["coverage"],
        "minutes_watched": len(derived["minutes_watched"]),
        "minutes_total": derived["minutes_total"],
        "duration": doc.get("duration"),
        "last_position": last.get("position"),
        "last_position_at": last.get("at"),
        "visits": derived["visit_count"],
        "first_watched_at": doc.get("first_watched_at"),
        "last_watched_at": doc.get("last_watched_at"),
    }
