"""Schemas generated from the declarations in `footfall.schemas`, for other programs to read: MongoDB's
`$jsonSchema` validators and the JSON Schema of incoming events in the collector's OpenAPI description."""

from __future__ import annotations

from typing import Any

from footfall.schemas import EVENT_ID, STREAMS, Field, Source, Stream

_BSON_TYPES: dict[str, list[str]] = {
    "string": ["string"],
    "integer": ["int", "long"],
    "number": ["int", "long", "double", "decimal"],
    "boolean": ["bool"],
    "datetime": ["date"],
    "object": ["object"],
    "array": ["array"],
}


# Whole-string anchors: MongoDB's PCRE takes `$` as "at the end or before a final newline", so it gets `\z`;
# JSON Schema's ECMA-262 `$` (without the m flag) is the end of the input.
PCRE = ("^", "\\z")
ECMA = ("^", "$")


def _constraints(spec: Field, anchors: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.pattern is not None:
        out["pattern"] = f"{anchors[0]}(?:{spec.pattern}){anchors[1]}"
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
        prop: dict[str, Any] = {"bsonType": types if len(types) > 1 else types[0], **_constraints(spec, PCRE)}
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
            "file": {"bsonType": "string"},
            "line": {"bsonType": ["int", "long"]},
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
                props[name] = {**_JSON_TYPES[spec.type], **_constraints(spec, ECMA)}
        required = [n for n, f in stream.fields.items() if f.required and not f.filled_in and source in f.sent_by]
        variants.append(
            {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        )
    return {"oneOf": variants}
