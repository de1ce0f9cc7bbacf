"""One line of an edX tracking log → one `edx_events` document (footfall/schemas.py declares its fields).

The rules, from the edX Research Guide's common fields and event types:
- A line is one JSON object. Blank lines and lines starting with `#` are skipped (and counted).
- `_id` is the event's time (seconds, 8 hex digits) and the SHA-256 of the line's bytes (24 hex digits):
  importing a file again, or a file that overlaps another, adds nothing; two byte-identical lines are one
  event, the second a duplicate.
- `timestamp` is `time` (ISO 8601, with or without a fraction, `Z` or an offset), in UTC.
- An *implicit* event, whose `event_type` is a URL path (`/courses/…/courseware/`), is a page request:
  `type` `request`, `event_name` `edx.request`, `path` the event type. Others are `type` `event`, named
  by `name` where the event has one, else by `event_type`.
- `event` is parsed where it is JSON (a browser event's payload is a JSON-encoded string); a `key=value`
  string, a truncated 512-character POST string or anything else that is not JSON stays text.
- `course_id` comes from `context.course_id`, else from the event type or the page, in all three forms
  (`org/course/run`, `course-v1:org+course+run`, `ccx-v1:org+course+run+ccx@N`); `org_id` from the
  context, else from the course id.
- Video events carry `video_id` (trimmed of stray whitespace), `video_position` (`currentTime`),
  `seek_from`/`seek_to` (`old_time`/`new_time`), `video_speed` (`new_speed`), `video_duration`; problem
  events `block_id` (`problem_id`, else the context's module usage key).
- `user_id` is `context.user_id` as text; an empty `username` or user id is none.
- The original event is kept whole in `edx`, made storable: a key starting with `$` or holding `.` gets
  those characters replaced by their full-width forms (＄, ．), and what is nested deeper than the
  stores allow is kept as its JSON text.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from footfall.codec import Invalid, parse_datetime
from footfall.schemas import MAX_FREE_STRING, MAX_NESTING

VIDEO_EVENTS = frozenset({"play_video", "pause_video", "seek_video", "stop_video", "load_video", "speed_change_video",
                          "show_transcript", "hide_transcript", "edx.video.played", "edx.video.paused",
                          "edx.video.position.changed", "edx.video.stopped", "edx.video.loaded",
                          "edx.video.speed.changed"})
COURSE_ID = re.compile(r"(ccx-v1:[^/?#\s+]+\+[^/?#\s+]+\+[^/?#\s+]+\+ccx@\d+"
                       r"|course-v1:[^/?#\s+]+\+[^/?#\s+]+\+[^/?#\s]+?)(?=[/?#\s]|$)"
                       r"|/courses/([^/?#\s:]+/[^/?#\s]+/[^/?#\s]+)(?=/|$)")


class Refused(Exception):
    """A line that cannot be an event; the message is the reason (what the summary counts by)."""


def identity(line: bytes, at: datetime) -> str:
    """The event's time in seconds (8 hex digits), then 24 of its line's SHA-256: derived from the content
    alone, and in time order, so that a log's events land at the end of the id index rather than each at
    its own random page (as UUIDv7 ids do for the collector's events)."""
    return f"{int(at.timestamp()):08x}{hashlib.sha256(line).hexdigest()[:24]}"


def course_of(*texts: object) -> str | None:
    """The first course id found in the texts, in any of its three forms."""
    for text in texts:
        if isinstance(text, str) and (match := COURSE_ID.search(text)):
            return match.group(1) or match.group(2)
    return None


def org_of(course_id: str | None) -> str | None:
    if not course_id:
        return None
    if ":" in course_id:  # course-v1:org+course+run, ccx-v1:org+course+run+ccx@N
        return course_id.split(":", 1)[1].split("+", 1)[0] or None
    return course_id.split("/", 1)[0] or None


def _text(value: object, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Refused(f"wrong type: expected text, not {type(value).__name__}")
    return str(value)[:limit]


def _number(value: object) -> float | None:
    """A position, speed or duration: numbers, or numbers written as text ("1.50"); else none."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@lru_cache(maxsize=4096)
def _key(key: str) -> str:
    key = key[:128].replace(".", "．").replace("\x00", "") or "_"
    return "＄" + key[1:] if key.startswith("$") else key


def _storable(value: Any, depth: int = 0) -> Any:
    """The original event made storable (see the module's rules): only containers are walked into."""
    kind = type(value)
    if kind is dict or kind is list:
        if depth >= MAX_NESTING:
            return orjson.dumps(value).decode()[:MAX_FREE_STRING]
        if kind is list:
            return [_storable(item, depth + 1) for item in value]
        return {_key(str(k)): _storable(v, depth + 1) for k, v in value.items()}
    if kind is str:
        return value if len(value) <= MAX_FREE_STRING else value[:MAX_FREE_STRING]
    if kind is int and not -(2**63) <= value < 2**63:
        return str(value)
    if kind is float and not math.isfinite(value):
        return None
    return value


def payload(value: object) -> object:
    """`event` as an object where it is JSON, else as it came (text, a list, nothing)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value  # a truncated POST string, say
    return value


def normalise(line: bytes, *, site: str, received_at: datetime, file: str | None = None,
              number: int | None = None) -> dict[str, Any]:
    """The document for one line (blank and comment lines are the caller's to skip); `Refused` if none."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("invalid UTF-8") from exc
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Refused("not JSON") from exc
    if not isinstance(event, dict):
        raise Refused("not a JSON object")
    if event.get("time") in (None, ""):
        raise Refused("no time")
    try:
        timestamp = parse_datetime(event["time"], "time")
    except Invalid as exc:
        raise Refused("unparseable time") from exc
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise Refused("wrong type: event_type")
    context = event.get("context") if event.get("context") is not None else {}
    if not isinstance(context, dict):
        raise Refused("wrong type: context")
    data = payload(event.get("event"))
    details = data if isinstance(data, dict) else {}
    implicit = event_type.startswith("/")
    page = _text(event.get("page"), 4096)
    course_id = _text(context.get("course_id"), 512) or course_of(event_type, page, context.get("path"))
    name = event.get("name")
    doc: dict[str, Any] = {
        "_id": identity(line, timestamp),
        "site": site,
        "source": "edx",
        "type": "request" if implicit else "event",
        "event_name": "edx.request" if implicit else (name if isinstance(name, str) and name else event_type)[:4096],
        "event_type": event_type[:4096],
        "event_source": _text(event.get("event_source"), 32),
        "timestamp": timestamp,
        "received_at": received_at,
        "user_id": _text(context.get("user_id"), 128),
        "username": _text(event.get("username"), 256),
        "session_id": _text(event.get("session"), 128),
        "ip": _text(event.get("ip"), 45),
        "user_agent": _text(event.get("agent"), 1024),
        "referrer": _text(event.get("referer"), 4096),
        "url": page,
        "path": event_type[:4096] if implicit else _text(context.get("path"), 4096),
        "host": _text(event.get("host"), 256),
        "accept_language": _text(event.get("accept_language"), 1024),
        "course_id": course_id,
        "org_id": _text(context.get("org_id"), 256) or org_of(course_id),
        "edx": _storable({**event, "event": data}),
        "file": file,
        "line": number,
    }
    if event_type in VIDEO_EVENTS or (isinstance(name, str) and name.startswith("edx.video.")):
        video = details.get("id") if isinstance(details.get("id"), str) else details.get("code")
        doc["video_id"] = video.strip()[:512] or None if isinstance(video, str) else None
        doc["video_position"] = _number(details.get("currentTime"))
        doc["seek_from"] = _number(details.get("old_time"))
        doc["seek_to"] = _number(details.get("new_time"))
        doc["video_speed"] = _number(details.get("new_speed"))
        doc["video_duration"] = _number(details.get("duration"))
    if "problem" in event_type:
        module = context.get("module") if isinstance(context.get("module"), dict) else {}
        block = details.get("problem_id") or module.get("usage_key")
        doc["block_id"] = block[:1024] if isinstance(block, str) else None
    return {k: v for k, v in doc.items() if v is not None}
