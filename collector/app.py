"""The collector's HTTP API.

Browsers post to /v1/events with their site's public key from an allowed origin; the site's own
servers post to /v1/server-events with the site secret as a bearer token. Each event is validated
against its stream's schema, enriched, and pushed onto its stream's Redis list; the answer (202) comes
only after Redis has it. Nothing a client sends can make it answer 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter as Tally
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from footfall import keys, static, tokens
from footfall.addresses import anonymize, client_ip, valid_ip
from footfall.codec import Invalid, encode
from footfall.collector import limits
from footfall.collector.enrich import Geo, agent_parser
from footfall.collector.metrics import Metrics
from footfall.collector.progress import ProgressAPI, Refused, progress_routes
from footfall.collector.queue import EventQueue, Limits, QueueFull, QueueUnavailable, RateLimited
from footfall.collector.responses import json_response
from footfall.generated_schemas import incoming_json_schema
from footfall.ids import uuid7
from footfall.schemas import BOT_LOGS, WEBSITE_LOGS, Source
from footfall.settings import Settings
from footfall.sites import Site, Sites
from footfall.stores import Store
from footfall.validation import validate_incoming

log = logging.getLogger("footfall.collector")
JSON = "application/json"
ENVELOPE = ("key", "user_token")  # request-level fields that may sit beside a single event


@dataclass
class Reject(Exception):
    """A request refused as a whole; `reason` labels the metric, `message` names the field."""

    status: int
    reason: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Batch:
    """What came of one request's events."""

    by_stream: dict[str, list[bytes]] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally[str] = field(default_factory=Tally)
    ignored: int = 0  # valid, but not kept: bots when FOOTFALL_BOTS=drop


def _events_body(source: Source) -> dict[str, Any]:
    event = incoming_json_schema(source)
    batch = {"type": "object", "properties": {"events": {"type": "array", "items": event}},
             "required": ["events"]}
    if source == "browser":
        batch["properties"] |= {"key": {"type": "string"}, "user_token": {"type": "string"}}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": {"oneOf": [batch, event]}}}}}


class Collector:
    """The collector's state: settings, sites, Redis, enrichment."""

    def __init__(self, settings: Settings, sites: Sites, geo: Geo | None = None) -> None:
        self.settings = settings
        self.sites = sites
        self.geo = geo or Geo(settings.geoip_db)
        self.agent = agent_parser(settings.ua_cache_size)
        self.metrics = Metrics()
        self.redis: Redis = Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=1.0)
        budget = Limits(settings.rate_limit_ip, settings.rate_limit_site, settings.max_queue,
                        settings.rate_limit_server)
        self.queue = EventQueue(self.redis, budget)
        self.unavailable = {"Retry-After": str(settings.retry_after_s)}
        self.throttled: dict[str, float] = {}  # address: when it may authenticate again (monotonic)

    # --- request parsing ---------------------------------------------------------------------------

    async def read_json(self, request: Request) -> Any:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Reject(413, "too_large", f"body is over the limit of {limit} bytes")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.settings.body_timeout_s):  # a slow client holds nothing for long
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise Reject(413, "too_large", f"body is over the limit of {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise Reject(408, "timeout", f"body: not received within {self.settings.body_timeout_s:g} s") from None
        except ClientDisconnect:  # nobody is left to answer; counted, never a traceback
            raise Reject(400, "disconnected", "body: the client went away before sending it") from None
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise Reject(400, "malformed", f"body is not valid JSON: {exc}") from None

    def split(self, body: Any) -> tuple[list[Any], dict[str, Any]]:
        """The events of a body (a batch object, a list, or one event) and its envelope fields."""
        if isinstance(body, list):
            events, envelope = body, {}
        elif isinstance(body, dict) and "events" in body:
            events = body["events"]
            envelope = {k: v for k, v in body.items() if k != "events"}
            if not isinstance(events, list):
                raise Reject(400, "malformed", "events: expected an array")
        elif isinstance(body, dict):
            envelope = {k: body[k] for k in ENVELOPE if k in body}
            events = [{k: v for k, v in body.items() if k not in ENVELOPE}]
        else:
            raise Reject(400, "malformed", "body: expected an event, an array of events or {\"events\": [...]}")
        if not events:
            raise Reject(400, "malformed", "events: expected at least one event")
        if len(events) > self.settings.max_batch_events:
            raise Reject(413, "too_large", f"events: more than {self.settings.max_batch_events} in one request")
        for name, value in envelope.items():
            if name not in ENVELOPE:
                raise Reject(400, "malformed", f"{str(name)[:64]}: unknown field")
            if not isinstance(value, str):
                raise Reject(400, "malformed", f"{name}: expected a string")
        return events, envelope

    # --- events ------------------------------------------------------------------------------------

    def build(self, site: Site, source: Source, events: list[Any], context: dict[str, Any]) -> Batch:
        """Validate and enrich each event; keep the good ones, report the bad ones by index and field."""
        batch = Batch()
        now = datetime.now(UTC)
        for index, event in enumerate(events):
            try:
                stream, doc = validate_incoming(event, source)
                doc = self.enrich(site, source, doc, context, now)
            except Invalid as exc:
                batch.rejected.append({"index": index, "field": exc.field, "error": exc.message})
                continue
            if doc.get("device_type") == "Bot" and self.settings.bots != "keep":
                if self.settings.bots == "drop" or stream is not WEBSITE_LOGS:
                    batch.ignored += 1
                    continue
                stream = BOT_LOGS
            batch.by_stream.setdefault(stream.name, []).append(encode(doc))
            batch.tally[stream.name] += 1
        return batch

    def enrich(self, site: Site, source: Source, doc: dict[str, Any], context: dict[str, Any],
               now: datetime) -> dict[str, Any]:
        """The event as it is queued: its id, where it was and who and what sent it, scrubbed."""
        event_id = doc.pop("event_id", None)
        # The id first: a queued event's identity is read from its first bytes (footfall.queue.identity).
        doc = {"_id": str(uuid.UUID(event_id)) if event_id else uuid7(), **doc}
        if not doc.get("path"):
            if not doc.get("url"):
                raise Invalid("path", "is required (or a url to take it from)")
            try:
                doc["path"] = urlsplit(doc["url"]).path or "/"
            except ValueError:  # http://[abc/ : an unclosed IPv6 host
                raise Invalid("url", "not a valid URL") from None
        doc["site"] = site.id
        doc["source"] = source
        if not doc.get("event_name"):
            doc["event_name"] = site.event_name(doc["path"])
        site.scrubber.event(doc)  # every source: what a client forgot to scrub is never queued
        doc.setdefault("timestamp", now)
        doc["received_at"] = now
        if source == "browser":
            doc["ip"] = context["ip"]
            doc["user_agent"] = context["user_agent"]
            user: tokens.User | None = context["user"]
            doc["user_id"] = user.id if user else None
            doc["username"] = user.name if user else None
        else:
            if doc.get("ip") is not None and not valid_ip(doc["ip"]):
                raise Invalid("ip", "not an IP address")
            doc.setdefault("user_id", None)  # anonymous is stated, the same for both sources
            doc.setdefault("username", None)
        doc.update(self.geo.lookup(doc.get("ip")))
        doc["ip"] = anonymize(doc.get("ip"), self.settings.ip_anonymize)
        doc.update(self.agent(doc.get("user_agent")))
        return doc

    async def queue_batch(self, batch: Batch, source: Source, ip: str | None, site: Site,
                          headers: dict[str, str] | None = None) -> Response:
        if batch.by_stream:
            try:
                await self.queue.push(batch.by_stream, ip, site.id, source)
            except RateLimited as exc:
                raise Reject(429, "rate_limited", f"{exc}: retry later",
                             {"Retry-After": str(exc.retry_after_s)}) from None
            except QueueFull as exc:
                raise Reject(503, "overloaded", f"{exc.stream}: queue is full, retry later",
                             self.unavailable) from None
            except QueueUnavailable:
                raise Reject(503, "unavailable", "queue unavailable, retry later", self.unavailable) from None
        for stream, n in batch.tally.items():
            self.metrics.accepted.labels(stream, source).inc(n)
        if batch.rejected:
            await self.count_rejected("invalid", len(batch.rejected))
        accepted = sum(batch.tally.values())
        status = 400 if batch.rejected and not accepted and not batch.ignored else 202
        body: dict[str, Any] = {"accepted": accepted, "rejected": batch.rejected}
        if batch.ignored:
            body["ignored"] = batch.ignored
        return json_response(status, body, headers)

    async def count_rejected(self, reason: str, n: int = 1) -> None:
        """In this process's metrics, and in Redis for `footfall status` (unless Redis is what failed)."""
        self.metrics.rejected.labels(reason).inc(n)
        if reason != "unavailable":
            with contextlib.suppress(RedisError):
                await self.redis.hincrby(keys.STATS, keys.stat("rejected", reason), n)

    async def guessing(self, ip: str | None) -> int:
        """Seconds until an address that failed to authenticate too often this minute is heard again (else
        0): a secret cannot be guessed faster than FOOTFALL_AUTH_FAILURES a minute. Failures are counted in
        Redis, across collectors; a collector remembers which addresses went over, so an authenticated
        request costs no round trip (with N collectors, at most N − 1 more guesses are judged a minute)."""
        until = self.throttled.get(ip or "unknown")
        if until is None:
            return 0
        if (left := until - time.monotonic()) > 0:
            return max(1, int(left + 0.999))
        del self.throttled[ip or "unknown"]
        return 0

    async def failed_authentication(self, ip: str | None) -> None:
        if self.settings.auth_failures <= 0:
            return
        with contextlib.suppress(RedisError):
            failures, left = await limits.spend(self.redis, "auth", ip or "unknown")
            if failures >= self.settings.auth_failures:  # that was the last one heard this minute
                if len(self.throttled) > 100_000:  # bounded: forget the oldest under a flood of addresses
                    self.throttled.pop(next(iter(self.throttled)))
                self.throttled[ip or "unknown"] = time.monotonic() + left

    def user_of(self, site: Site, token: str | None) -> tokens.User | None:
        """The learner a valid token names; a bad token makes the events anonymous, never rejected."""
        if not token:
            return None
        try:
            return tokens.verify(token, site.secret)
        except tokens.InvalidToken as exc:
            self.metrics.rejected.labels("user_token").inc()
            log.info("user token ignored: %s", exc)
            return None


def header_dict(scope: Scope) -> dict[str, str]:
    """A request's headers as a plain dict, the first of repeated ones winning as in Starlette's
    `Headers.get` (which scans the whole list, and raises inside, on every look-up)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}


class HotPath:
    """Serves the event endpoints straight from the ASGI scope, without the framework's middleware stack.

    They need none of it, and it was half of their CPU time. FastAPI still declares the same handlers,
    so the OpenAPI description and every other route are unchanged.
    """

    def __init__(self, app: FastAPI, routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)


def create_app(settings: Settings, sites: Sites, geo: Geo | None = None, store: Store | None = None) -> HotPath:
    collector = Collector(settings, sites, geo)
    metrics = collector.metrics
    events_latency, server_events_latency = metrics.latency.labels("events"), metrics.latency.labels("server-events")

    async def read_json(request: Request) -> Any:
        try:
            return await collector.read_json(request)
        except Reject as exc:
            raise Refused(exc.status, exc.message) from None

    progress = ProgressAPI(settings, sites, read_json, collector, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await collector.redis.aclose()
        progress.close()

    # /docs and /redoc with their assets served from the fastapi-offline package: they work without internet.
    # redirect_slashes off: a redirect would copy the request's Host header into its Location.
    app = FastAPIOffline(title="Footfall collector", version="1", lifespan=lifespan, redirect_slashes=False)
    app.state.collector = collector

    def cors(origin: str | None) -> dict[str, str]:
        if not sites.any_allows_origin(origin):
            return {"Vary": "Origin"}
        return {"Access-Control-Allow-Origin": origin or "", "Vary": "Origin"}

    async def refused(exc: Reject, extra: dict[str, str] | None = None) -> Response:
        await collector.count_rejected(exc.reason)
        return json_response(exc.status, {"error": exc.message}, {**exc.headers, **(extra or {})})

    @app.options("/v1/events", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        origin = request.headers.get("origin")
        if not sites.any_allows_origin(origin):
            return json_response(403, {"error": "origin: not allowed"})
        return Response(status_code=204, headers={
            **cors(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, X-Footfall-Key",
            "Access-Control-Max-Age": "86400",
        })

    @app.post("/v1/events", status_code=202, openapi_extra=_events_body("browser"),
              summary="Browser events (public site key, allowed Origin)")
    async def browser_events(request: Request) -> Response:
        started = time.perf_counter()
        headers = header_dict(request.scope)
        origin = headers.get("origin")
        try:
            body = await collector.read_json(request)
            events, envelope = collector.split(body)
            key = envelope.get("key") or request.query_params.get("key") or headers.get("x-footfall-key")
            site = sites.by_key(key)
            if site is None:
                raise Reject(401, "unauthorized", "key: unknown site key")
            if not site.allows_origin(origin):
                raise Reject(403, "forbidden_origin", "origin: not allowed for this site")
            if settings.honor_dnt and "1" in (headers.get("dnt"), headers.get("sec-gpc")):
                await collector.count_rejected("do_not_track", len(events))
                return json_response(202, {"accepted": 0, "rejected": [], "ignored": len(events)}, cors(origin))
            context = {
                "ip": client_ip(request.client.host if request.client else None,
                                headers.get("x-forwarded-for"), settings.trusted_proxies),
                "user_agent": headers.get("user-agent", "")[:1024] or None,
                "user": collector.user_of(site, envelope.get("user_token")),
            }
            batch = collector.build(site, "browser", events, context)
            return await collector.queue_batch(batch, "browser", context["ip"], site, cors(origin))
        except Reject as exc:
            return await refused(exc, cors(origin))
        finally:
            events_latency.observe(time.perf_counter() - started)

    @app.post("/v1/server-events", status_code=202, openapi_extra=_events_body("server"),
              summary="Server events (Authorization: Bearer <site secret>)")
    async def server_events(request: Request) -> Response:
        started = time.perf_counter()
        headers = header_dict(request.scope)
        try:
            sender = client_ip(request.client.host if request.client else None,  # the site's server, behind nginx
                               headers.get("x-forwarded-for"), settings.trusted_proxies)
            if wait := await collector.guessing(sender):
                raise Reject(429, "rate_limited", "too many failed authentications from this client IP: retry later",
                             {"Retry-After": str(wait)})
            scheme, _, secret = headers.get("authorization", "").partition(" ")
            site = sites.by_secret(secret.strip()) if scheme.lower() == "bearer" else None
            if site is None:
                await collector.failed_authentication(sender)
                raise Reject(401, "unauthorized", "authorization: expected 'Bearer <site secret>'",
                             {"WWW-Authenticate": "Bearer"})
            body = await collector.read_json(request)
            events, envelope = collector.split(body)
            if envelope:
                raise Reject(400, "malformed", f"{next(iter(envelope))}: not used by server events")
            batch = collector.build(site, "server", events, {})
            return await collector.queue_batch(batch, "server", sender, site)
        except Reject as exc:
            return await refused(exc)
        finally:
            server_events_latency.observe(time.perf_counter() - started)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> Response:
        return json_response(200, {"status": "ok"})

    @app.get("/readyz", summary="Redis answers, takes writes, and no stream is over its limit")
    async def readyz() -> Response:
        try:
            await metrics.queue.refresh(collector.redis)
            await collector.redis.set(keys.READY_PROBE, b"1", ex=60)  # refused when Redis is out of memory
        except RedisError:
            return json_response(503, {"status": "redis unavailable"}, collector.unavailable)
        full = [s for s, n in metrics.queue.snapshot["depth"].items() if n >= settings.max_queue]
        if full:
            return json_response(503, {"status": "queue full", "streams": full}, collector.unavailable)
        return json_response(200, {"status": "ready", "queues": metrics.queue.snapshot["depth"]})

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        try:
            await metrics.queue.refresh(collector.redis)
        except RedisError:
            metrics.queue.snapshot = {}
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(progress_routes(progress))
    tracker = static.read("footfall.min.js")  # built from footfall.js by `npm run build`

    @app.get("/footfall.js", summary="The browser tracker")
    async def tracker_script() -> Response:
        return Response(tracker, media_type="text/javascript", headers={
            "Cache-Control": "public, max-age=86400",
            "Access-Control-Allow-Origin": "*",
        })

    return HotPath(app, {("POST", "/v1/events"): browser_events, ("POST", "/v1/server-events"): server_events})

