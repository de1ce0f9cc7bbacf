"""The `FOOTFALL` settings dict, read and checked once at start-up."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from footfall.addresses import Network
from footfall.scrub import DJANGO_PASSWORD_RESET, Scrubber

DEFAULT_EXCLUDE = (r"^/static/", r"^/media/", r"^/favicon\.ico$", r"^/robots\.txt$", r"^/healthz")


@dataclass(frozen=True)
class Config:
    collector_url: str
    secret: str = field(repr=False)
    public_key: str | None = None
    event_names: tuple[tuple[re.Pattern[str], str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    send_post_fields: bool = False
    scrubber: Scrubber = field(default_factory=Scrubber)  # footfall.scrub: what is never sent
    trusted_proxies: tuple[Network, ...] = ()
    batch_size: int = 100
    flush_interval_s: float = 1.0
    max_queue: int = 10_000
    timeout_s: float = 5.0
    exit_timeout_s: float = 2.0
    token_ttl_s: int = 3600
    cookie: str = "footfall_seen"
    cookie_max_age_s: int = 2 * 365 * 24 * 3600
    enabled: bool = True

    def event_name(self, path: str) -> str | None:
        for pattern, name in self.event_names:
            if pattern.search(path):
                return name
        return None

    def excluded(self, path: str) -> bool:
        return any(p.search(path) for p in self.exclude)


def _require(options: dict[str, Any], name: str) -> Any:
    if not options.get(name):
        raise ImproperlyConfigured(f"FOOTFALL['{name}'] is required")
    return options[name]


@cache
def get_config() -> Config:
    options: dict[str, Any] = getattr(settings, "FOOTFALL", None) or {}
    if not isinstance(options, dict):
        raise ImproperlyConfigured("FOOTFALL must be a dict")
    known = {"COLLECTOR_URL", "SECRET", "PUBLIC_KEY", "EVENT_NAMES", "EXCLUDE", "SEND_POST_FIELDS", "SCRUB",
             "SECRET_PATHS",
             "TRUSTED_PROXIES", "BATCH_SIZE", "FLUSH_INTERVAL", "MAX_QUEUE", "TIMEOUT", "EXIT_TIMEOUT",
             "TOKEN_TTL", "COOKIE", "COOKIE_MAX_AGE", "ENABLED"}
    unknown = set(options) - known
    if unknown:
        raise ImproperlyConfigured(f"FOOTFALL has unknown keys: {', '.join(sorted(unknown))}")
    try:
        return Config(
            collector_url=str(_require(options, "COLLECTOR_URL")).rstrip("/"),
            secret=str(_require(options, "SECRET")),
            public_key=options.get("PUBLIC_KEY"),
            event_names=tuple((re.compile(p), n) for p, n in options.get("EVENT_NAMES", ())),
            exclude=tuple(re.compile(p) for p in options.get("EXCLUDE", DEFAULT_EXCLUDE)),
            send_post_fields=bool(options.get("SEND_POST_FIELDS", False)),
            scrubber=Scrubber(tuple(w.lower() for w in options.get("SCRUB", ())),
                              tuple(re.compile(p) for p in (DJANGO_PASSWORD_RESET, *options.get("SECRET_PATHS", ())))),
            trusted_proxies=tuple(ipaddress.ip_network(n, strict=False) for n in options.get("TRUSTED_PROXIES", ())),
            batch_size=int(options.get("BATCH_SIZE", 100)),
            flush_interval_s=float(options.get("FLUSH_INTERVAL", 1.0)),
            max_queue=int(options.get("MAX_QUEUE", 10_000)),
            timeout_s=float(options.get("TIMEOUT", 5.0)),
            exit_timeout_s=float(options.get("EXIT_TIMEOUT", 2.0)),
            token_ttl_s=int(options.get("TOKEN_TTL", 3600)),
            cookie=str(options.get("COOKIE", "footfall_seen")),
            cookie_max_age_s=int(options.get("COOKIE_MAX_AGE", 2 * 365 * 24 * 3600)),
            enabled=bool(options.get("ENABLED", True)),
        )
    except (TypeError, ValueError, re.error) as exc:
        raise ImproperlyConfigured(f"FOOTFALL: {exc}") from None


def forget_config(setting: str, **_: Any) -> None:
    """Tests that override FOOTFALL get it read again."""
    if setting == "FOOTFALL":
        get_config.cache_clear()
