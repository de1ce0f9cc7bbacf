"""The schemas are the one contract: what clients may send, what stores accept, what MongoDB enforces."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.codec import Invalid, format_datetime, parse_datetime
from footfall.generated_schemas import incoming_json_schema, mongo_validator
from footfall.ids import uuid7
from footfall.schemas import STREAMS
from footfall.validation import validate_document, validate_incoming


def test_event_type_chooses_the_stream() -> None:
    assert validate_incoming({"type": "page_view", "url": "http://x/"}, "browser")[0].name == "website_logs"
    assert validate_incoming({"type": "exit_link", "link_url": "http://y/"}, "browser")[0].name == "exit_links"
    stream, _ = validate_incoming({"type": "video_progress", "position": 61.5}, "browser")
    assert stream.name == "tutorial_progress"


@pytest.mark.parametrize(("event", "field"), [
    ({"type": "nope"}, "type"),
    ({"url": "x"}, "type"),
    ({"type": "page_view", "colour": "red"}, "colour"),
    ({"type": "page_view", "title": 5}, "title"),
    ({"type": "page_view", "first_time_visit": "yes"}, "first_time_visit"),
    ({"type": "page_view", "tz_offset": 1.5}, "tz_offset"),
    ({"type": "page_view", "tz_offset": True}, "tz_offset"),
    ({"type": "page_view", "timestamp": "yesterday"}, "timestamp"),
    ({"type": "page_view", "timestamp": "1850-01-01T00:00:00Z"}, "timestamp"),
    ({"type": "page_view", "event_id": "not-a-uuid"}, "event_id"),
    ({"type": "page_view", "props": {"$where": 1}}, "props.$where"),
    ({"type": "page_view", "props": {"a.b": 1}}, "props.a.b"),
    ({"type": "page_view", "props": {"x": {"y": {"z": {"u": {"v": {"w": 1}}}}}}}, "props.x.y.z.u.v.w"),
    ({"type": "page_view", "props": {"big": 2**70}}, "props.big"),
    ({"type": "page_view", "url": "x" * 5000}, "url"),
    ({"type": "video_progress"}, "position"),
    ({"type": "video_progress", "position": -1}, "position"),
])
def test_invalid_events_are_refused_naming_the_field(event: dict, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_incoming(event, "browser")
    assert caught.value.field == field


def test_browsers_cannot_send_server_only_fields() -> None:
    for name in ("user_id", "username", "ip", "status_code"):
        with pytest.raises(Invalid) as caught:
            validate_incoming({"type": "page_view", name: "x"}, "browser")
        assert caught.value.field == name


def test_nobody_can_send_collector_fields() -> None:
    for source in ("browser", "server"):
        for name in ("_id", "site", "source", "received_at", "country", "device_type"):
            with pytest.raises(Invalid):
                validate_incoming({"type": "request" if source == "server" else "page_view", name: "x"}, source)


def test_only_servers_may_name_their_events() -> None:
    with pytest.raises(Invalid):
        validate_incoming({"type": "page_view", "event_name": "event.admin"}, "browser")
    assert validate_incoming({"type": "request", "event_name": "event.login"}, "server")[1]["event_name"]


def test_timestamps_accept_iso_and_epoch_ms_and_come_back_utc() -> None:
    expected = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert parse_datetime("2026-01-02T03:04:05.678Z") == expected
    assert parse_datetime("2026-01-02T04:04:05.678+01:00") == expected
    assert parse_datetime("2026-01-02T03:04:05.678") == expected
    assert parse_datetime(expected.timestamp() * 1000) == expected
    assert format_datetime(expected) == "2026-01-02T03:04:05.678Z"
    assert format_datetime(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"


def test_stored_documents_need_every_required_field() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    doc = {"_id": "0b6a4f3e-9a57-4a5e-9a53-3c1f1d6f2a10", "site": "s", "source": "browser", "type": "page_view",
           "event_name": "event.page", "timestamp": now, "received_at": now, "path": "/"}
    assert validate_document("website_logs", doc) == doc
    with pytest.raises(Invalid) as caught:
        validate_document("website_logs", {**doc, "timestamp": "2026-01-01"})
    assert caught.value.field == "timestamp"
    with pytest.raises(Invalid):
        validate_document("website_logs", {k: v for k, v in doc.items() if k != "site"})


def test_mongo_validators_are_generated_from_the_same_fields() -> None:
    for stream in STREAMS.values():
        schema = mongo_validator(stream)["$jsonSchema"]
        assert set(schema["properties"]) == set(stream.fields)
        assert schema["additionalProperties"] is False
        assert {"_id", "site", "timestamp", "received_at", "type", "path"} <= set(schema["required"])
        assert schema["properties"]["timestamp"]["bsonType"] == "date"
        assert schema["properties"]["first_time_visit"]["bsonType"] == ["bool", "null"]
    assert mongo_validator(STREAMS["website_logs"])["$jsonSchema"]["properties"]["method"]["enum"][-1] is None


def test_openapi_schema_lists_what_each_source_may_send() -> None:
    browser = incoming_json_schema("browser")["oneOf"][0]["properties"]
    server = incoming_json_schema("server")["oneOf"][0]["properties"]
    assert "title" in browser and "user_id" not in browser
    assert "user_id" in server and "status_code" in server and "_id" not in server


def test_event_ids_made_here_are_uuid7_and_sort_by_their_time() -> None:
    ids = [uuid7(ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]
    assert [uuid.UUID(i).version for i in ids] == [7, 7, 7]
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 and str(uuid.UUID(i)) == i for i in ids)
    assert sorted(ids) == ids and int(ids[2].replace("-", "")[:12], 16) == 1_800_000_000_000
    assert len({uuid7(1) for _ in range(1000)}) == 1000  # the random part keeps ids made in one ms apart


@settings(max_examples=500, deadline=None)
@given(at=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30),
                       timezones=st.none() | st.timezones() | st.just(UTC)))
def test_times_are_formatted_as_utc_with_milliseconds_always_the_same_width(at: datetime) -> None:
    expected = (at.astimezone(UTC) if at.tzinfo else at).isoformat(timespec="milliseconds")[:23] + "Z"
    assert format_datetime(at) == expected and len(expected) == 24
