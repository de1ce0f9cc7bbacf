"""How values are written and read back: times in one canonical form, documents as JSON, free-form data
bounded. What the collector queues, the drainer decodes and SQLite stores all go through here."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from footfall.schemas import EARLIEST, INT64, LATEST, MAX_FREE_STRING, MAX_KEY_LENGTH, MAX_NESTING, Stream

CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").fullmatch  # format_datetime's form


class Invalid(ValueError):
    """A field's value is not what its schema says; `field` names it (dotted for nested keys)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def format_datetime(value: datetime) -> str:
    """Millisecond precision, always the same width, so stored strings sort as times do.

    orjson writes the date and time (naive means UTC) four times faster than `isoformat`; we keep
    its first 23 characters, or add the fraction it leaves out when there is none.
    """
    if value.tzinfo is not UTC and value.utcoffset():
        value = value.astimezone(UTC)
    text = orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
    return (text[1:24] if value.microsecond else text[1:20] + b".000").decode() + "Z"


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(doc: dict[str, Any]) -> bytes:
    """An event as JSON, datetimes in the one canonical form (queued, and stored by SQLite)."""
    return orjson.dumps(doc, default=_encode_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def parse_datetime(value: Any, name: str = "timestamp") -> datetime:
    """An ISO 8601 string (naive means UTC) or epoch milliseconds, within 1970–2100."""
    if isinstance(value, str):
        if len(value) > 40:
            raise Invalid(name, "date-time string too long")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(name, "expected an ISO 8601 date-time or epoch milliseconds") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 4102444800000:
            raise Invalid(name, "epoch milliseconds out of range")
        parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise Invalid(name, "expected an ISO 8601 date-time or epoch milliseconds")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    elif parsed.utcoffset():
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+00:01 is before the first representable UTC time
            raise Invalid(name, "date-time out of range (1970–2100)") from None
    if not EARLIEST <= parsed < LATEST:
        raise Invalid(name, "date-time out of range (1970–2100)")
    if parsed.microsecond % 1000:
        parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    return parsed


def check_free(value: Any, name: str, depth: int = 0) -> None:
    """Free-form JSON (props, view args): bounded depth, safe keys, finite 64-bit numbers."""
    if depth > MAX_NESTING:
        raise Invalid(name, f"nested deeper than {MAX_NESTING} levels")
    kind = type(value)
    if kind is dict or kind is list:
        shallow = depth < MAX_NESTING  # then plain short text below needs no look of its own
        items = value.items() if kind is dict else enumerate(value)
        for key, item in items:
            if kind is dict and (not key or len(key) > MAX_KEY_LENGTH or key[0] == "$" or "." in key
                                 or "\x00" in key):
                raise Invalid(f"{name}.{key[:40]}", "keys must be 1-128 characters, no '$' first, no '.'")
            if not (shallow and type(item) is str and len(item) <= MAX_FREE_STRING):
                check_free(item, f"{name}.{key}" if kind is dict else f"{name}[{key}]", depth + 1)
    elif kind is str:
        if len(value) > MAX_FREE_STRING:
            raise Invalid(name, f"string longer than {MAX_FREE_STRING} characters")
    elif kind is bool or value is None:
        pass
    elif kind is int:
        if not -INT64 - 1 <= value <= INT64:
            raise Invalid(name, "integer out of 64-bit range")
    elif kind is float:
        if not math.isfinite(value):
            raise Invalid(name, "number must be finite")
    else:
        raise Invalid(name, f"unsupported value of type {type(value).__name__}")


def decode(raw: bytes, stream: Stream) -> dict[str, Any]:
    """Queued JSON back into a document, times as datetimes; raises `Invalid` if it is not one."""
    return with_datetimes(loads(raw), stream)


def loads(raw: bytes) -> Any:
    """Queued JSON decoded, times left as the text they are queued as; `Invalid` if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid("document", f"not JSON: {exc}") from None


def with_datetimes(doc: Any, stream: Stream) -> dict[str, Any]:
    """A decoded document (a copy) with its times as datetimes; raises `Invalid` if it is not a document
    (or is the `Invalid` that decoding it gave)."""
    if isinstance(doc, Invalid):
        raise doc
    if not isinstance(doc, dict) or not isinstance(doc.get("_id"), str):
        raise Invalid("_id", "missing or not a string")
    doc = dict(doc)
    for name in stream.datetime_fields:
        if doc.get(name) is not None:
            doc[name] = parse_datetime(doc[name], name)
    return doc
