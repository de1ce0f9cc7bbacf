"""The event schemas: the one source of truth for what each stream holds.

Every field of every stream is declared once, here. From these declarations come:
- the collector's validation of what a browser or a server sends (`validate_incoming`);
- the stores' validation of the documents they are asked to write (`validate_document`);
- the MongoDB `$jsonSchema` validators (`mongo_validator`);
- the JSON Schema in the collector's OpenAPI description (`incoming_json_schema`).

Rule for unknown fields: an event with a field that its stream does not declare is rejected, with the
field named; free-form data belongs in `props`, whose keys may not start with `$` or contain `.`, so no
client string can ever become a MongoDB operator or path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

FieldType = Literal["string", "integer", "number", "boolean", "datetime", "object", "array"]
Source = Literal["browser", "server"]
BOTH: frozenset[str] = frozenset({"browser", "server"})
BROWSER: frozenset[str] = frozenset({"browser"})
SERVER: frozenset[str] = frozenset({"server"})
COLLECTOR: frozenset[str] = frozenset()

UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
DEVICE_TYPES = ("Mobile", "Tablet", "PC", "Bot", "Unknown")
INT64 = 2**63 - 1
MAX_NESTING = 5
MAX_KEY_LENGTH = 128
MAX_FREE_STRING = 8192
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Field:
    """One field of a stored document, and who may send it."""

    type: FieldType
    sent_by: frozenset[str] = BOTH  # which clients may send it; empty: only the collector sets it
    required: bool = False  # must be present (and not null) in the stored document
    filled_in: bool = False  # when a client leaves it out, the collector fills it in
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""


def _common() -> dict[str, Field]:
    """Fields every stream has, with the same names whichever source sent them."""
    return {
        "_id": Field("string", COLLECTOR, required=True, pattern=UUID_PATTERN, doc="event id (UUID)"),
        "site": Field("string", COLLECTOR, required=True, max_length=64),
        "source": Field("string", COLLECTOR, required=True, enum=("browser", "server")),
        "event_name": Field("string", SERVER, required=True, filled_in=True, max_length=128,
                            doc="the Django shim's, else from the site's URL map"),
        "timestamp": Field("datetime", required=True, filled_in=True, doc="when it happened (client clock), UTC"),
        "received_at": Field("datetime", COLLECTOR, required=True),
        "url": Field("string", max_length=4096),
        "path": Field("string", required=True, filled_in=True, max_length=4096, doc="from url when absent"),
        "method": Field("string", SERVER, enum=HTTP_METHODS),
        "referrer": Field("string", max_length=4096),
        "title": Field("string", BROWSER, max_length=1024),
        "user_id": Field("string", SERVER, max_length=128, doc="null for anonymous visitors"),
        "username": Field("string", SERVER, max_length=256),
        "session_id": Field("string", max_length=128),
        "page_view_id": Field("string", BROWSER, pattern=UUID_PATTERN, doc="the page view this event belongs to"),
        "first_time_visit": Field("boolean"),
        "ip": Field("string", SERVER, max_length=45),
        "user_agent": Field("string", SERVER, max_length=1024),
        "browser_family": Field("string", COLLECTOR, max_length=128),
        "browser_version": Field("string", COLLECTOR, max_length=64),
        "os_family": Field("string", COLLECTOR, max_length=128),
        "os_version": Field("string", COLLECTOR, max_length=64),
        "device_family": Field("string", COLLECTOR, max_length=128),
        "device_type": Field("string", COLLECTOR, enum=DEVICE_TYPES),
        "country": Field("string", COLLECTOR, max_length=128),
        "country_code": Field("string", COLLECTOR, max_length=2),
        "region": Field("string", COLLECTOR, max_length=128),
        "city": Field("string", COLLECTOR, max_length=128),
        "latitude": Field("number", COLLECTOR, minimum=-90, maximum=90),
        "longitude": Field("number", COLLECTOR, minimum=-180, maximum=180),
        "timezone": Field("string", COLLECTOR, max_length=64),
        "screen": Field("string", BROWSER, max_length=32, pattern=r"^\d{1,5}x\d{1,5}$"),
        "language": Field("string", BROWSER, max_length=35),
        "tz_offset": Field("integer", BROWSER, minimum=-900, maximum=900, doc="minutes east of UTC"),
        "props": Field("object", doc="free-form properties (custom events, later edX context)"),
    }


@dataclass(frozen=True)
class Stream:
    """A Redis list, and the collection its events are stored in."""

    name: str
    collection: str
    types: tuple[str, ...]
    fields: dict[str, Field] = field(default_factory=dict)
    datetime_fields: tuple[str, ...] = field(init=False)
    free_fields: tuple[str, ...] = field(init=False)  # free-form JSON: objects and arrays

    def __post_init__(self) -> None:
        self.fields["type"] = Field("string", required=True, enum=self.types)
        of_type = lambda *types: tuple(n for n, f in self.fields.items() if f.type in types)  # noqa: E731
        object.__setattr__(self, "datetime_fields", of_type("datetime"))
        object.__setattr__(self, "free_fields", of_type("object", "array"))


WEBSITE_LOGS = Stream(
    "website_logs",
    "website_logs",
    types=("page_view", "page_ping", "request", "custom"),
    fields={
        **_common(),
        "name": Field("string", BROWSER, max_length=128, doc="a custom event's name"),
        "status_code": Field("integer", SERVER, minimum=100, maximum=599),
        "duration_ms": Field("number", SERVER, minimum=0, maximum=86_400_000),
        "view_name": Field("string", SERVER, max_length=256),
        "view_args": Field("array", SERVER),
        "view_kwargs": Field("object", SERVER),
        "post_data": Field("object", SERVER, doc="POST fields, secrets removed by the sender"),
    },
)
EXIT_LINKS = Stream(
    "exit_links",
    "exit_links",
    types=("exit_link",),
    fields={**_common(), "link_url": Field("string", BROWSER, required=True, max_length=4096)},
)
TUTORIAL_PROGRESS = Stream(
    "tutorial_progress",
    "progress_events",  # raw events; per-learner progress documents are folded from them
    types=("video_play", "video_pause", "video_seek", "video_ended", "video_progress"),
    fields={
        **_common(),
        "foss": Field("string", BROWSER, max_length=256),
        "tutorial": Field("string", BROWSER, max_length=256),
        "language_name": Field("string", BROWSER, max_length=128, doc="the tutorial's language"),
        "video_src": Field("string", BROWSER, max_length=4096),
        "position": Field("number", BROWSER, required=True, minimum=0, maximum=1e7, doc="seconds"),
        "duration": Field("number", BROWSER, minimum=0, maximum=1e7, doc="seconds"),
        "minute": Field("integer", BROWSER, minimum=0, maximum=200_000),
        "seek_from": Field("number", BROWSER, minimum=0, maximum=1e7),
    },
)

# Where bot traffic goes when FOOTFALL_BOTS=separate: the website log's schema, its own collection.
BOT_LOGS = Stream("bot_logs", "bot_logs", types=WEBSITE_LOGS.types, fields=dict(WEBSITE_LOGS.fields))

STREAMS: dict[str, Stream] = {s.name: s for s in (WEBSITE_LOGS, EXIT_LINKS, TUTORIAL_PROGRESS, BOT_LOGS)}
STREAM_OF_TYPE: dict[str, Stream] = {t: s for s in (WEBSITE_LOGS, EXIT_LINKS, TUTORIAL_PROGRESS) for t in s.types}
DEAD_LETTERS = "dead_letters"
COLLECTIONS: tuple[str, ...] = (*(s.collection for s in STREAMS.values()), DEAD_LETTERS)
# Raw events, and the field their age is counted from (retention, erasure).
RAW_AGE: dict[str, str] = {**{s.collection: "received_at" for s in STREAMS.values()}, DEAD_LETTERS: "failed_at"}


# --- values ---------------------------------------------------------------------------------------


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
        parsed = parsed.astimezone(UTC)
    if not EARLIEST <= parsed < LATEST:
        raise Invalid(name, "date-time out of range (1970–2100)")
    if parsed.microsecond % 1000:
        parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    return parsed


def _check_free(value: Any, name: str, depth: int = 0) -> None:
    """Free-form JSON (props, view args): bounded depth, safe keys, finite 64-bit numbers."""
    if depth > MAX_NESTING:
        raise Invalid(name, f"nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not key or len(key) > MAX_KEY_LENGTH or key[0] == "$" or "." in key or "\x00" in key:
                raise Invalid(f"{name}.{key[:40]}", "keys must be 1-128 characters, no '$' first, no '.'")
            _check_free(item, f"{name}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_free(item, f"{name}[{i}]", depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_FREE_STRING:
            raise Invalid(name, f"string longer than {MAX_FREE_STRING} characters")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -INT64 - 1 <= value <= INT64:
            raise Invalid(name, "integer out of 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid(name, "number must be finite")
    else:
        raise Invalid(name, f"unsupported value of type {type(value).__name__}")


# --- incoming events: compiled checks ------------------------------------------------------------

# Exact type tests, as code: a bool is not a number here. Times may be strings or epoch ms.
TYPE_TESTS: dict[str, str] = {"string": "type(v) is not str", "integer": "type(v) is not int",
                              "number": "type(v) is not float and type(v) is not int",
                              "boolean": "type(v) is not bool", "object": "type(v) is not dict",
                              "array": "type(v) is not list",
                              "datetime": "type(v) is not str and type(v) is not int and type(v) is not float"}
EXPECTED = {"string": "expected a string", "integer": "expected an integer", "number": "expected a number",
            "boolean": "expected true or false", "object": "expected an object", "array": "expected an array",
            "datetime": "expected an ISO 8601 date-time or epoch milliseconds"}

Validator = Callable[[dict[str, Any]], dict[str, Any]]


def _checks(name: str, spec: Field, constants: dict[str, Any]) -> list[str]:
    """The lines that check one present, non-null value `v` of a field (and may replace it)."""
    def fail(message: str) -> str:
        return f"raise Invalid({name!r}, {message!r})"

    lines = [f"if {TYPE_TESTS[spec.type]}: {fail(EXPECTED[spec.type])}"]
    if spec.max_length is not None:
        lines.append(f"if len(v) > {spec.max_length}: {fail(f'longer than {spec.max_length} characters')}")
    if spec.enum is not None:
        constants[f"enum_{name}"] = frozenset(spec.enum)
        lines.append(f"if v not in enum_{name}: {fail('must be one of ' + ', '.join(spec.enum))}")
    if spec.pattern is not None:
        constants[f"pattern_{name}"] = re.compile(spec.pattern).match
        lines.append(f"if not pattern_{name}(v): {fail('has the wrong format')}")
    if spec.type == "number":
        lines.append(f"if not isfinite(v): {fail('number must be finite')}")
    if spec.minimum is not None:
        lines.append(f"if v < {spec.minimum!r}: {fail(f'must be ≥ {spec.minimum:g}')}")
    if spec.maximum is not None:
        lines.append(f"if v > {spec.maximum!r}: {fail(f'must be ≤ {spec.maximum:g}')}")
    if spec.type in ("object", "array"):
        lines.append(f"check_free(v, {name!r})")
    if spec.type == "datetime":
        lines.append(f"v = parse_datetime(v, {name!r})")
    return lines


def _incoming_validator(stream: Stream, source: str) -> Validator:
    """Compile what one source may send of one stream into straight-line Python, a few lines a field.

    This is the collector's hot path: unrolled, it runs about twice as fast as a loop over per-field
    rules. Events come back as new documents, nulls dropped and times parsed.
    """
    fields = {**stream.fields, "event_id": EVENT_ID}
    names = [n for n, f in fields.items() if source in f.sent_by]
    constants: dict[str, Any] = {"Invalid": Invalid, "isfinite": math.isfinite, "check_free": _check_free,
                                 "parse_datetime": parse_datetime, "NAMES": frozenset(names), "unknown": _unknown}
    body = ["def validate(doc):", "    if not NAMES.issuperset(doc): unknown(doc, NAMES)", "    out = {}"]
    for name in names:
        body += [f"    v = doc.get({name!r})", "    if v is not None:"]
        body += [f"        {line}" for line in _checks(name, fields[name], constants)]
        body.append(f"        out[{name!r}] = v")
        if fields[name].required and not fields[name].filled_in:
            body.append(f"    else: raise Invalid({name!r}, 'is required')")
    body.append("    return out")
    exec("\n".join(body), constants)  # the source is built above from our own field specs, never from input
    return constants["validate"]  # type: ignore[no-any-return]


def _unknown(doc: dict[str, Any], names: frozenset[str]) -> None:
    key = next(k for k in doc if k not in names)
    raise Invalid(str(key)[:64], "unknown field")


EVENT_ID = Field("string", pattern=UUID_PATTERN, doc="client-generated UUID; stored as _id")
_INCOMING: dict[tuple[str, str], Validator] = {
    (s.name, source): _incoming_validator(s, source) for s in STREAMS.values() for source in BOTH
}


def stream_for(event: dict[str, Any]) -> Stream:
    kind = event.get("type")
    stream = STREAM_OF_TYPE.get(kind) if isinstance(kind, str) else None
    if stream is None:
        raise Invalid("type", f"must be one of {', '.join(STREAM_OF_TYPE)}")
    return stream


def validate_incoming(event: Any, source: Source) -> tuple[Stream, dict[str, Any]]:
    """Check what a client sent; datetimes come back parsed. Raises `Invalid` naming the field."""
    if not isinstance(event, dict):
        raise Invalid("event", "expected an object")
    stream = stream_for(event)
    return stream, _INCOMING[(stream.name, source)](event)


# --- stored documents: msgspec types ------------------------------------------------------------------

CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").fullmatch  # format_datetime's form
PY_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict,
                            "array": list, "datetime": Annotated[datetime, msgspec.Meta(tz=True)]}


def _document_type(stream: Stream, time_type: Any) -> Any:
    """A stream's stored document as a msgspec type, so that most of its checks run in C.

    Patterns, free-form keys and the 1970–2100 range of times are checked after, by `_Rest`
    (msgspec's own patterns cost more than the whole decode).
    """
    fields: list[tuple[Any, ...]] = []
    for name, spec in stream.fields.items():
        meta = {key: value for key, value in (("max_length", spec.max_length), ("ge", spec.minimum),
                                              ("le", spec.maximum)) if value is not None}
        kind = Literal[spec.enum] if spec.enum else time_type if spec.type == "datetime" else PY_TYPES[spec.type]
        kind = Annotated[kind, msgspec.Meta(**meta)] if meta else kind
        fields.append((name, kind) if spec.required else (name, kind | None, None))
    fields.sort(key=len)  # msgspec wants the fields without defaults (the required ones) first
    return msgspec.defstruct(f"{stream.collection}_document", fields, forbid_unknown_fields=True, gc=False)


class _Rest:
    """The checks of a stored document that msgspec's types leave over."""

    def __init__(self, stream: Stream) -> None:
        self.patterns = [(n, re.compile(f.pattern).match) for n, f in stream.fields.items() if f.pattern]
        self.times = stream.datetime_fields
        self.free = stream.free_fields

    def check(self, value: Callable[[str], Any], earliest: Any, latest: Any) -> None:
        for name, match in self.patterns:
            if (text := value(name)) is not None and not match(text):
                raise Invalid(name, "has the wrong format")
        for name in self.times:
            if (at := value(name)) is not None and not earliest <= at < latest:
                raise Invalid(name, "date-time out of range (1970–2100)")
        for name in self.free:
            if (free := value(name)) is not None:
                _check_free(free, name)


def _invalid(exc: msgspec.ValidationError) -> Invalid:
    """msgspec's message, with the field it names in front, as our own errors have it."""
    message = str(exc)
    if at := re.search(r" - at `\$\.(\w+)", message):
        return Invalid(at.group(1), message[:at.start()])
    if named := re.search(r"field `(\w+)`$", message):
        return Invalid(named.group(1), message)
    return Invalid("document", message)


BY_COLLECTION: dict[str, Stream] = {s.collection: s for s in STREAMS.values()}
_DOCUMENT: dict[str, Any] = {c: _document_type(s, PY_TYPES["datetime"]) for c, s in BY_COLLECTION.items()}
_CANONICAL: dict[str, msgspec.json.Decoder[Any]] = {  # times as the strings they are queued as
    c: msgspec.json.Decoder(_document_type(s, str)) for c, s in BY_COLLECTION.items()
}
_REST: dict[str, _Rest] = {c: _Rest(s) for c, s in BY_COLLECTION.items()}
EARLIEST_TEXT, LATEST_TEXT = format_datetime(EARLIEST), format_datetime(LATEST)


def validate_document(collection: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Check a document a store is asked to write (the SQLite store's `$jsonSchema`)."""
    try:
        msgspec.convert(doc, _DOCUMENT[collection])
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None
    _REST[collection].check(doc.get, EARLIEST, LATEST)
    return doc


def is_canonical_document(collection: str, raw: bytes) -> bool:
    """Whether queued JSON is a valid document with its times in canonical form, checked without
    building it (what the collector queues always is). When not, `decode` and validate it to learn why."""
    try:
        doc = _CANONICAL[collection].decode(raw)
        for name in BY_COLLECTION[collection].datetime_fields:
            if (text := getattr(doc, name)) is not None:
                if not CANONICAL_TIME(text):
                    return False
                datetime.fromisoformat(text)  # a day that exists
        _REST[collection].check(doc.__getattribute__, EARLIEST_TEXT, LATEST_TEXT)
    except (msgspec.MsgspecError, Invalid, ValueError, TypeError):
        return False
    return True


def decode(raw: bytes, stream: Stream) -> dict[str, Any]:
    """Queued JSON back into a document, times as datetimes; raises `Invalid` if it is not one."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid("document", f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("_id"), str):
        raise Invalid("_id", "missing or not a string")
    for name in stream.datetime_fields:
        if doc.get(name) is not None:
            doc[name] = parse_datetime(doc[name], name)
    return doc


# --- generated schemas ----------------------------------------------------------------------------

_BSON_TYPES: dict[str, list[str]] = {
    "string": ["string"],
    "integer": ["int", "long"],
    "number": ["int", "long", "double", "decimal"],
    "boolean": ["bool"],
    "datetime": ["date"],
    "object": ["object"],
    "array": ["array"],
}


def _constraints(spec: Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.pattern is not None:
        out["pattern"] = spec.pattern
    if spec.enum is not None:
        out["enum"] = list(spec.enum)
    if spec.minimum is not None:
        out["minimum"] = spec.minimum
    if spec.maximum is not None:
        out["maximum"] = spec.maximum
    if spec.doc:
        out["description"] = spec.doc
    return out


def mongo_validator(stream: Stream) -> dict[str, Any]:
    """The `$jsonSchema` validator of a stream's collection."""
    properties: dict[str, Any] = {}
    for name, spec in stream.fields.items():
        types = _BSON_TYPES[spec.type] if spec.required else [*_BSON_TYPES[spec.type], "null"]
        prop: dict[str, Any] = {"bsonType": types if len(types) > 1 else types[0], **_constraints(spec)}
        if spec.enum is not None and not spec.required:
            prop["enum"] = [*spec.enum, None]
        properties[name] = prop
    required = [n for n, f in stream.fields.items() if f.required]
    return {
        "$jsonSchema": {
            "bsonType": "object",
            "required": required,
            "properties": properties,
            "additionalProperties": False,
        }
    }


DEAD_LETTER_VALIDATOR: dict[str, Any] = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "stream", "reason", "raw", "failed_at"],
        "properties": {
            "_id": {"bsonType": "string"},
            "stream": {"bsonType": "string"},
            "reason": {"bsonType": "string"},
            "raw": {"bsonType": "string"},
            "failed_at": {"bsonType": "date"},
        },
    }
}

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": ["string", "number"], "description": "ISO 8601 or epoch milliseconds"},
    "object": {"type": "object"},
    "array": {"type": "array"},
}


def incoming_json_schema(source: Source) -> dict[str, Any]:
    """JSON Schema of one event as a client sends it (for the OpenAPI description)."""
    variants = []
    for stream in STREAMS.values():
        props: dict[str, Any] = {}
        for name, spec in {**stream.fields, "event_id": EVENT_ID}.items():
            if source in spec.sent_by:
                props[name] = {**_JSON_TYPES[spec.type], **_constraints(spec)}
        required = [n for n, f in stream.fields.items() if f.required and not f.filled_in and source in f.sent_by]
        variants.append(
            {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        )
    return {"oneOf": variants}
