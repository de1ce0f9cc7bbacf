"""The learner's own tutorial progress: read it, and mark a tutorial complete or incomplete.

The learner is the one named in a valid signed token (the JWT the site's server issues, checked with
the site's secret); nothing in the request can name anyone else. The store is read in a worker thread
(its drivers block), one at a time for SQLite's sake.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from redis.asyncio import Redis
from redis.exceptions import RedisError

from footfall import progress, tokens
from footfall.collector import limits
from footfall.collector.responses import json_response
from footfall.settings import Settings
from footfall.sites import Site, Sites
from footfall.stores import Store, StoreUnavailable, store_from

MAX_NAME = 256
CORS_HEADERS = "Authorization, Content-Type, X-Footfall-Key"


class Guard(Protocol):
    """What the progress API asks of the collector: its Redis, and its throttle of failed authentication."""

    redis: Redis

    async def guessing(self, ip: str | None) -> int: ...

    async def failed_authentication(self, ip: str | None) -> None: ...


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _name(value: Any, field: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise Refused(400, f"{field}: expected a non-empty string of at most {MAX_NAME} characters")
    return value


class ProgressAPI:
    def __init__(self, settings: Settings, sites: Sites, read_json: Callable[[Request], Awaitable[Any]],
                 guard: Guard, store: Store | None = None) -> None:
        self.settings, self.sites, self.read_json, self.guard = settings, sites, read_json, guard
        self._store = store
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="store")  # one connection, used by one thread

    def store(self) -> Store:
        if self._store is None:
            self._store = store_from(self.settings)
        return self._store

    def close(self) -> None:
        self.worker.shutdown(wait=True)
        if self._store is not None:
            self._store.close()

    async def call(self, work: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, lambda: work(self.store()))
        except StoreUnavailable:
            raise Refused(503, "progress store unavailable, retry later",
                          {"Retry-After": str(self.settings.retry_after_s)}) from None

    def cors(self, origin: str | None, site: Site | None = None) -> dict[str, str]:
        allowed = site.allows_origin(origin) if site else self.sites.any_allows_origin(origin)
        return {"Access-Control-Allow-Origin": origin or "", "Vary": "Origin"} if allowed else {"Vary": "Origin"}

    async def learner(self, request: Request) -> tuple[Site, tokens.User]:
        key = request.query_params.get("key") or request.headers.get("x-footfall-key")
        site = self.sites.by_key(key)
        if site is None:
            raise Refused(401, "key: unknown site key")
        origin = request.headers.get("origin")
        if origin is not None and not site.allows_origin(origin):
            raise Refused(403, "origin: not allowed for this site")
        ip = request.client.host if request.client else None
        if wait := await self.guard.guessing(ip):
            raise Refused(429, "too many failed authentications from this client IP: retry later",
                          {"Retry-After": str(wait)})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            user = tokens.verify(token.strip() if scheme.lower() == "bearer" else None, site.secret)
        except tokens.InvalidToken as exc:
            await self.guard.failed_authentication(ip)
            raise Refused(401, f"authorization: {exc}", {"WWW-Authenticate": "Bearer"}) from None
        limit = self.settings.rate_limit_learner
        try:
            calls, wait = await limits.spend(self.guard.redis, "learner", f"{site.id}:{user.id}") if limit else (0, 0)
        except RedisError:
            calls = 0  # the limit is a guard, not a dependency: a learner still reads their progress
        if calls > limit > 0:
            raise Refused(429, "too many progress requests from this learner: retry later",
                          {"Retry-After": str(wait)})
        return site, user

    async def read(self, request: Request) -> dict[str, Any]:
        site, user = await self.learner(request)
        foss = _name(request.query_params.get("foss"), "foss")
        language = _name(request.query_params.get("language"), "language", required=False)
        docs, resume = await self.call(lambda store: progress.progress_in(store).read(site.id, user.id, foss, language))
        return progress.course_view(foss, language, docs, resume, site.course(foss, language),
                                    self.settings.completion_threshold)

    async def mark(self, request: Request) -> dict[str, Any]:
        site, user = await self.learner(request)
        body = await self.read_json(request)  # bounded, like every body the collector reads
        if not isinstance(body, dict):
            raise Refused(400, "body: expected an object")
        unknown = set(body) - {"foss", "language", "tutorial", "completed", "page_view_id"}
        if unknown:
            raise Refused(400, f"{sorted(unknown)[0][:64]}: unknown field")
        if not isinstance(body.get("completed"), bool):
            raise Refused(400, "completed: expected true or false")
        visit = body.get("page_view_id") or ""
        try:
            visit = str(uuid.UUID(visit)) if visit else ""
        except (ValueError, TypeError, AttributeError):
            raise Refused(400, "page_view_id: expected a UUID") from None
        identity = {"site": site.id, "user_id": user.id, "foss": _name(body.get("foss"), "foss"),
                    "language": _name(body.get("language"), "language", required=False),
                    "tutorial": _name(body.get("tutorial"), "tutorial")}
        state = "complete" if body["completed"] else "incomplete"
        threshold = self.settings.completion_threshold
        doc = await self.call(lambda store: progress.progress_in(store).mark(identity, state, datetime.now(UTC), visit,
                                                                        threshold))
        return progress.tutorial_view(doc, threshold)


def progress_routes(api: ProgressAPI) -> APIRouter:
    router = APIRouter()

    async def answer(request: Request, work: Any) -> Response:
        origin = request.headers.get("origin")
        try:
            return json_response(200, await work(request), api.cors(origin))
        except Refused as exc:
            return json_response(exc.status, {"error": exc.message}, {**exc.headers, **api.cors(origin)})

    @router.options("/v1/progress", include_in_schema=False)
    @router.options("/v1/progress/completion", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        origin = request.headers.get("origin")
        if not api.sites.any_allows_origin(origin):
            return json_response(403, {"error": "origin: not allowed"}, {})
        return Response(status_code=204, headers={**api.cors(origin), "Access-Control-Allow-Methods": "GET, POST",
                                                  "Access-Control-Allow-Headers": CORS_HEADERS,
                                                  "Access-Control-Max-Age": "86400"})

    @router.get("/v1/progress", summary="The learner's progress in a course (Authorization: Bearer <user token>)")
    async def read(request: Request) -> Response:
        return await answer(request, api.read)

    @router.post("/v1/progress/completion", summary="Mark a tutorial complete or incomplete, as the learner")
    async def mark(request: Request) -> Response:
        return await answer(request, api.mark)

    return router
