"""What the collector adds to an event: where the client is and what it runs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb
from user_agents import parse as parse_user_agent

EMPTY: dict[str, Any] = {}


def default_geoip_db() -> Path:
    """The GeoLite2-City database shipped by the maxminddb-geolite2 package (2018 data)."""
    from _maxminddb_geolite2 import geolite2_database

    return Path(geolite2_database())


class Geo:
    """Country, region, city, coordinates and time zone of a public IP; private or unknown: nothing."""

    def __init__(self, path: Path | None = None, cache_size: int = 65536) -> None:
        self.path = path or default_geoip_db()
        self.reader = maxminddb.open_database(str(self.path), maxminddb.MODE_AUTO)
        self.lookup: Callable[[str | None], dict[str, Any]] = lru_cache(maxsize=cache_size)(self._lookup)

    def _lookup(self, ip: str | None) -> dict[str, Any]:
        if not ip:
            return EMPTY
        try:
            if not ipaddress.ip_address(ip).is_global:
                return EMPTY
            record = self.reader.get(ip)
        except ValueError:
            return EMPTY
        if not isinstance(record, dict):
            return EMPTY
        country = record.get("country") or record.get("registered_country") or {}
        subdivisions = record.get("subdivisions") or [{}]
        location = record.get("location") or {}
        return {
            "country": country.get("names", {}).get("en"),
            "country_code": country.get("iso_code"),
            "region": subdivisions[0].get("names", {}).get("en"),
            "city": (record.get("city") or {}).get("names", {}).get("en"),
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
            "timezone": location.get("time_zone"),
        }

    def close(self) -> None:
        self.reader.close()


def _device_type(ua: Any) -> str:
    if ua.is_bot:
        return "Bot"
    if ua.is_tablet:
        return "Tablet"
    if ua.is_mobile:
        return "Mobile"
    if ua.is_pc:
        return "PC"
    return "Unknown"


def _agent(user_agent: str | None) -> dict[str, Any]:
    if not user_agent:
        return {"device_type": "Unknown"}
    ua = parse_user_agent(user_agent)
    return {
        "browser_family": ua.browser.family,
        "browser_version": ua.browser.version_string or None,
        "os_family": ua.os.family,
        "os_version": ua.os.version_string or None,
        "device_family": ua.device.family,
        "device_type": _device_type(ua),
    }


def agent_parser(cache_size: int) -> Callable[[str | None], dict[str, Any]]:
    """Parse user agents, remembering the most recent ones (a site sees few distinct agents)."""
    return lru_cache(maxsize=cache_size)(_agent)
