"""The event schemas: the one source of truth for what each stream holds.

Every field of every stream is declared once, here, and nothing else lives in this module: it is what a
newcomer reads to learn what Footfall stores. Machinery is generated from these declarations elsewhere:
- `footfall.validation`: the collector's checks of what a browser or a server sends (`validate_incoming`)
  and the stores' checks of the documents they are asked to write (`validate_document`);
- `footfall.generated_schemas`: the MongoDB `$jsonSchema` validators and the JSON Schema in the
  collector's OpenAPI description;
- `footfall.codec`: how values (times above all) are written and read back.

Rule for unknown fields: an event with a field that its stream does not declare is rejected, with the
field named; free-form data belongs in `props`, whose keys may not start with `$` or contain `.`, so no
client string can ever become a MongoDB operator or path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

FieldType = Literal["string", "integer", "number", "boolean", "datetime", "object", "array"]
Source = Literal["browser", "server"]
BOTH: frozenset[str] = frozenset({"browser", "server"})
BROWSER: frozenset[str] = frozenset({"browser"})
SERVER: frozenset[str] = frozenset({"server"})
COLLECTOR: frozenset[str] = frozenset()

# Patterns match whole strings (never a prefix, never "up to a trailing newline"): written without anchors,
# and anchored for each engine by the code generated from them.
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
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
        "screen": Field("string", BROWSER, max_length=32, pattern=r"\d{1,5}x\d{1,5}"),
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
    indexes: tuple[tuple[str, ...], ...] = ()  # what analysts look up by, beyond site and time
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
        "minute": Field("integer", BROWSER, minimum=0, maximum=200_000, doc="the playhead's minute (informative)"),
        "segments": Field("array", BROWSER, doc="5-second segments of media time newly played (whole numbers)"),
        "seek_from": Field("number", BROWSER, minimum=0, maximum=1e7),
    },
)

# Where bot traffic goes when FOOTFALL_BOTS=separate: the website log's schema, its own collection.
BOT_LOGS = Stream("bot_logs", "bot_logs", types=WEBSITE_LOGS.types, fields=dict(WEBSITE_LOGS.fields))

# Imported, not collected: edX and Open edX tracking logs (`footfall import-edx`), one document per event, with
# the fields that mean the same as Footfall's own under the same names, and the original event kept whole.
EDX_EVENTS = Stream(
    "edx",
    "edx_events",
    types=("request", "event"),  # request: an implicit event (its event_type is the URL path requested)
    fields={
        "_id": Field("string", COLLECTOR, required=True, pattern=r"[0-9a-f]{32}",
                     doc="its time, then its line's SHA-256: a line imported twice is one document"),
        "site": Field("string", COLLECTOR, required=True, max_length=64, doc="the platform (--site)"),
        "source": Field("string", COLLECTOR, required=True, enum=("edx",)),
        "event_name": Field("string", COLLECTOR, required=True, max_length=4096,
                            doc="the event's name (else its event_type); edx.request for implicit events"),
        "event_type": Field("string", COLLECTOR, required=True, max_length=4096),
        "event_source": Field("string", COLLECTOR, max_length=32, doc="browser, server, mobile, task"),
        "timestamp": Field("datetime", COLLECTOR, required=True, doc="the event's time, UTC"),
        "received_at": Field("datetime", COLLECTOR, required=True, doc="when it was imported"),
        "user_id": Field("string", COLLECTOR, max_length=128, doc="context.user_id as text"),
        "username": Field("string", COLLECTOR, max_length=256),
        "session_id": Field("string", COLLECTOR, max_length=128),
        "ip": Field("string", COLLECTOR, max_length=45),
        "user_agent": Field("string", COLLECTOR, max_length=1024),
        "referrer": Field("string", COLLECTOR, max_length=4096),
        "url": Field("string", COLLECTOR, max_length=4096, doc="the page"),
        "path": Field("string", COLLECTOR, max_length=4096),
        "host": Field("string", COLLECTOR, max_length=256),
        "accept_language": Field("string", COLLECTOR, max_length=1024),
        "course_id": Field("string", COLLECTOR, max_length=512, doc="org/course/run, course-v1:…, ccx-v1:…@N"),
        "org_id": Field("string", COLLECTOR, max_length=256),
        "video_id": Field("string", COLLECTOR, max_length=512, doc="trimmed of stray whitespace"),
        "video_position": Field("number", COLLECTOR, doc="currentTime, seconds of media time"),
        "seek_from": Field("number", COLLECTOR, doc="a seek's old_time"),
        "seek_to": Field("number", COLLECTOR, doc="a seek's new_time"),
        "video_speed": Field("number", COLLECTOR, doc="a speed change's new_speed"),
        "video_duration": Field("number", COLLECTOR),
        "block_id": Field("string", COLLECTOR, max_length=1024, doc="the problem (or other block) acted on"),
        "edx": Field("object", COLLECTOR, required=True,
                     doc="the original event whole; its `event` parsed where it is JSON, else the text"),
        "file": Field("string", COLLECTOR, max_length=4096, doc="the file it was imported from"),
        "line": Field("integer", COLLECTOR, minimum=1, doc="its line in that file"),
    },
    indexes=(("course_id", "timestamp"), ("user_id", "timestamp"), ("event_type", "timestamp")),
)

# The ledger of imports: one document per file per run of `footfall import-edx`.
IMPORTS = Stream(
    "imports",
    "imports",
    types=("edx",),
    fields={
        "_id": Field("string", COLLECTOR, required=True, max_length=128,
                     doc="the file's SHA-256, then when the run started"),
        "site": Field("string", COLLECTOR, required=True, max_length=64),
        "file": Field("string", COLLECTOR, required=True, max_length=4096, doc="as named on the command line"),
        "size": Field("integer", COLLECTOR, required=True, minimum=0, doc="bytes read"),
        "sha256": Field("string", COLLECTOR, required=True, pattern=r"[0-9a-f]{64}", doc="of the bytes read"),
        "lines": Field("integer", COLLECTOR, required=True, minimum=0, doc="lines read"),
        "stored": Field("integer", COLLECTOR, required=True, minimum=0, doc="new events"),
        "duplicates": Field("integer", COLLECTOR, required=True, minimum=0, doc="events already stored"),
        "skipped": Field("integer", COLLECTOR, required=True, minimum=0, doc="blank and comment lines"),
        "filtered": Field("integer", COLLECTOR, required=True, minimum=0, doc="outside --course/--from/--to"),
        "refused": Field("object", COLLECTOR, required=True, doc="lines sent to dead letters, by reason"),
        "started_at": Field("datetime", COLLECTOR, required=True),
        "finished_at": Field("datetime", COLLECTOR, required=True),
    },
)

# A course's structure (`footfall import-edx-structure`): each block's type, name and place, so that reports
# can name and order videos, problems and sections instead of showing their ids.
COURSE_BLOCKS = Stream(
    "course_blocks",
    "course_blocks",
    types=("block",),
    fields={
        "_id": Field("string", COLLECTOR, required=True, max_length=2048, doc="the course id, a space, the block id"),
        "course_id": Field("string", COLLECTOR, required=True, max_length=512),
        "block_id": Field("string", COLLECTOR, required=True, max_length=1024),
        "category": Field("string", COLLECTOR, required=True, max_length=64, doc="course, chapter, video, problem…"),
        "name": Field("string", COLLECTOR, max_length=1024, doc="its display name"),
        "parent": Field("string", COLLECTOR, max_length=1024),
        "children": Field("array", COLLECTOR, doc="the blocks it holds, in order"),
        "position": Field("integer", COLLECTOR, required=True, minimum=0, doc="its place in the course, in order"),
    },
)

STREAMS: dict[str, Stream] = {s.name: s for s in (WEBSITE_LOGS, EXIT_LINKS, TUTORIAL_PROGRESS, BOT_LOGS)}
STREAM_OF_TYPE: dict[str, Stream] = {t: s for s in (WEBSITE_LOGS, EXIT_LINKS, TUTORIAL_PROGRESS) for t in s.types}
STORED: tuple[Stream, ...] = (*STREAMS.values(), EDX_EVENTS)  # every collection of raw events
DEAD_LETTERS = "dead_letters"
COLLECTIONS: tuple[str, ...] = (*(s.collection for s in STORED), IMPORTS.collection, COURSE_BLOCKS.collection,
                                 DEAD_LETTERS)
# Raw events, and the field their age is counted from (retention, erasure).
RAW_AGE: dict[str, str] = {**{s.collection: "received_at" for s in STORED}, DEAD_LETTERS: "failed_at"}
BY_COLLECTION: dict[str, Stream] = {s.collection: s for s in (*STORED, IMPORTS, COURSE_BLOCKS)}
# What a client sends as the event's id; the collector stores it as `_id`.
EVENT_ID = Field("string", pattern=UUID_PATTERN, doc="client-generated UUID; stored as _id")
