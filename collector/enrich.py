"""What the collector adds to an event: where the client is and what it runs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import geoip2.database
from geoip2.errors import AddressNotFoundError
from maxminddb import MODE_AUTO
from user_agents import parse as parse_user_agent

EMPTY: dict[str, Any] = {}


def default_geoip_db() -> Path:
    """The GeoLite2-City database shipped by the maxminddb-geolite2 package (2018 data)."""
    from _maxminddb_geolite2 import geolite2_database

    return Path(geolite2_database())


class Geo:
    """Country, region, city, coordinates and time zone of a public IP; private or unknown: nothing.

    Look-ups go through geoip2's reader (its typed records and its errors) and are cached per address:
    a site's visitors come back, and a hit costs less than building the record again.
    """

    def __init__(self, path: Path | None = None, cache_size: int = 65536) -> None:
        self.path = path or default_geoip_db()
        self.reader = geoip2.database.Reader(str(self.path), mode=MODE_AUTO)
        self.lookup: Callable[[str | None], dict[str, Any]] = lru_cache(maxsize=cache_size)(self._lookup)

    def _lookup(self, ip: str | None) -> dict[str, Any]:
        if not ip:
            return EMPTY
        try:
            if not ipaddress.ip_address(ip).is_global:
                return EMPTY
            record = self.reader.city(ip)
        except (ValueError, AddressNotFoundError):
            return EMPTY
        country = record.country if record.country.iso_code else record.registered_country
        region = record.subdivisions[0].names.get("en") if record.subdivisions else None
        return {
            "country": country.names.get("en"),
            "country_code": country.iso_code,
            "region": region,
            "city": record.city.names.get("en"),
            "latitude": record.location.latitude,
            "longitude": record.location.longitude,
            "timezone": record.location.time_zone,
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
