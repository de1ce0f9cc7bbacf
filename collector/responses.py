"""JSON answers: every collector endpoint speaks the same way (datetimes as canonical UTC strings)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from footfall.codec import encode


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, media_type="application/json", headers=headers)
