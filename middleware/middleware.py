"""FootfallMiddleware: one event per request, built after the response, handed to the sender.

Works under WSGI and ASGI (sync and async capable, like Django's own middleware). Building the event
touches no network and no session write; any error in it is logged (at most once a minute) and the
response goes out untouched.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from footfall.addresses import client_ip
from footfall.codec import format_datetime
from footfall.ids import uuid7
from footfall.schemas import HTTP_METHODS
from footfall_django.conf import Config, get_config
from footfall_django.sender import Sender, Throttled, sender_for

log = logging.getLogger("footfall.django")
METHODS = frozenset(HTTP_METHODS)
MAX_DEPTH = 4
INT64 = 2**63 - 1


def jsonable(value: Any, depth: int = 0) -> Any:
    """View arguments as JSON the collector accepts: safe keys, finite 64-bit numbers, bounded depth."""
    if value is None or isinstance(value, bool | str):
        return value[:2000] if isinstance(value, str) else value
    if isinstance(value, int):
        return value if -INT64 - 1 <= value <= INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return str(value)[:200]
    if isinstance(value, dict):
        return {safe_key(k): jsonable(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in list(value)[:100]]
    return str(value)[:200]


def safe_key(key: Any) -> str:
    """No key may start with '$' or hold '.': they would be MongoDB operators or paths."""
    text = str(key)[:128].replace(".", "_") or "_"
    return "_" + text[1:] if text[0] == "$" else text


class FootfallMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.config: Config = get_config()
        self.sender: Sender = sender_for(self.config)
        self.throttled = Throttled()
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        started, clock = datetime.now(UTC), time.perf_counter()
        response = self.get_response(request)
        self.record(request, response, started, time.perf_counter() - clock)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started, clock = datetime.now(UTC), time.perf_counter()
        response = await self.get_response(request)
        self.record(request, response, started, time.perf_counter() - clock)
        return response

    def record(self, request: HttpRequest, response: HttpResponseBase, started: datetime, seconds: float) -> None:
        if not self.config.enabled or self.config.excluded(request.path):
            return
        try:
            first_visit = self.config.cookie not in request.COOKIES
            self.sender.put(self.event(request, response, started, seconds, first_visit))
            if first_visit:
                response.set_cookie(self.config.cookie, "1", max_age=self.config.cookie_max_age_s, httponly=True,
                                    samesite="Lax", secure=request.is_secure())
        except Exception as exc:  # the site's response matters more than its log line
            self.throttled.warning("event", "footfall: could not log a request: %s: %s", type(exc).__name__, exc)

    def event(self, request: HttpRequest, response: HttpResponseBase, started: datetime, seconds: float,
              first_visit: bool) -> dict[str, Any]:
        meta = request.META
        config = self.config
        path = request.path
        event: dict[str, Any] = {
            "event_id": uuid7(),
            "type": "request",
            "timestamp": format_datetime(started),
            "path": config.scrubber.path(path)[:4096],
            "method": request.method if request.method in METHODS else None,
            "status_code": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "ip": client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), config.trusted_proxies),
            "user_agent": meta.get("HTTP_USER_AGENT", "")[:1024] or None,
            "referrer": config.scrubber.url(meta.get("HTTP_REFERER", ""))[:4096] or None,
            "first_time_visit": first_visit,
        }
        query = meta.get("QUERY_STRING")
        if query:
            event["url"] = config.scrubber.url(f"{path}?{query}").rstrip("?")[:4096]
        name = config.event_name(path)
        if name:
            event["event_name"] = name
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            event["user_id"] = str(user.pk)[:128]
            event["username"] = user.get_username()[:256]
        session = getattr(request, "session", None)
        if session is not None and session.session_key:  # a digest: the key itself is a credential
            event["session_id"] = hashlib.sha256(session.session_key.encode()).hexdigest()[:32]
        match = getattr(request, "resolver_match", None)
        if match is not None:
            event["view_name"] = (match.view_name or "")[:256] or None
            event["view_args"] = jsonable(list(match.args))
            event["view_kwargs"] = config.scrubber.tree(jsonable(dict(match.kwargs)))
        if config.send_post_fields and request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            event["post_data"] = config.scrubber.tree({
                safe_key(key): jsonable(values[0] if len(values) == 1 else values)
                for key, values in list(request.POST.lists())[:100]
            })
        return event
