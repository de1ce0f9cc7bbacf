"""What the learner's progress API shows: one tutorial, and a whole course with where to resume it.

The HTTP side (who the learner is, CORS, status codes) is the collector's; what the answer holds is
decided here, from the stored documents alone.
"""

from __future__ import annotations

from typing import Any

from footfall.progress.fold import SEGMENT_S, derive
from footfall.sites import Course


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
        "segments_watched": derived["segments_watched"],
        "segments_total": derived["segments_total"],
        "watched_seconds": watched_seconds(derived["segments_watched"], doc.get("duration")),
        "duration": doc.get("duration"),
        "last_position": last.get("position"),
        "last_position_at": last.get("at"),
        "visits": derived["visit_count"],
        "first_watched_at": doc.get("first_watched_at"),
        "last_watched_at": doc.get("last_watched_at"),
    }


def watched_seconds(segments: int, duration: float | None) -> float:
    """Media time played, counted in whole segments (the last one may be shorter)."""
    seconds = float(segments * SEGMENT_S)
    return min(seconds, duration) if duration else seconds


def course_view(foss: str, language: str, docs: list[dict[str, Any]], resume: dict[str, Any] | None,
                course: Course | None, threshold: float) -> dict[str, Any]:
    """A learner's course: the site's listed tutorials in order (untouched ones too), then any others they
    watched; completion counts only listed tutorials when the site lists them."""
    seen = {d["tutorial"]: tutorial_view(d, threshold) for d in docs}
    listed = list(course.tutorials) if course else []
    tutorials = [seen.get(t) or {"tutorial": t, "completed": False, "visits": 0} for t in listed]
    tutorials += [v for t, v in sorted(seen.items()) if t not in listed]
    completed = sum(1 for t in tutorials if t["completed"] and (not listed or t["tutorial"] in listed))
    size = course.size if course else None
    last = (resume or {}).get("last")
    return {
        "foss": foss,
        "language": language,
        "tutorials": tutorials,
        "completed": completed,
        "tutorials_in_course": size,
        "course_completion_percent": round(100 * completed / size, 1) if size else None,
        "resume": {"tutorial": last["tutorial"], "position": last["position"], "at": last["at"]} if last else None,
    }
