"""Enrichment: where the client is (GeoLite2), what it runs (user agent), and which address to believe."""

from __future__ import annotations

import ipaddress

import pytest

from footfall.addresses import client_ip
from footfall.collector.enrich import Geo, agent_parser

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.fixture(scope="module")
def geo() -> Geo:
    return Geo()


def test_public_ipv4_gets_a_location(geo: Geo) -> None:
    place = geo.lookup("81.2.69.160")
    assert place["country_code"] == "GB" and place["country"] == "United Kingdom"
    assert place["city"] and place["region"] and place["timezone"] == "Europe/London"
    assert -90 <= place["latitude"] <= 90 and -180 <= place["longitude"] <= 180


def test_public_ipv6_gets_a_location(geo: Geo) -> None:
    assert geo.lookup("2001:4860:4860::8888")["country_code"]


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "fd00::1", "not-an-ip", "", None])
def test_private_and_unknown_addresses_have_no_location(geo: Geo, ip: str | None) -> None:
    assert geo.lookup(ip) == {}


@pytest.mark.parametrize(("agent", "device_type"), [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     "PC"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.0 Mobile/15E148 Safari/604.1", "Mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
     "Mobile/15E148 Safari/604.1", "Tablet"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot"),
    ("", "Unknown"),
])
def test_user_agents_get_a_device_type(agent: str, device_type: str) -> None:
    assert agent_parser(16)(agent)["device_type"] == device_type


def test_user_agent_fields() -> None:
    parsed = agent_parser(16)("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "Chrome/120.0.1 Safari/537.36")
    assert parsed["browser_family"] == "Chrome" and parsed["browser_version"] == "120.0.1"
    assert parsed["os_family"] == "Linux"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert client_ip("203.0.113.9", "81.2.69.160", PROXIES) == "203.0.113.9"
    assert client_ip("203.0.113.9", "81.2.69.160", []) == "203.0.113.9"


def test_forwarded_for_from_a_trusted_proxy_is_believed_hop_by_hop() -> None:
    assert client_ip("10.0.0.2", "81.2.69.160", PROXIES) == "81.2.69.160"
    # the client forged the leftmost entry; the proxy appended the real one
    assert client_ip("10.0.0.2", "1.1.1.1, 81.2.69.160", PROXIES) == "81.2.69.160"
    # two proxies in a row
    assert client_ip("10.0.0.2", "81.2.69.160, 10.0.0.7", PROXIES) == "81.2.69.160"
    # garbage stops the walk at the last address we can vouch for
    assert client_ip("10.0.0.2", "81.2.69.160, junk", PROXIES) == "10.0.0.2"


def test_ipv6_peers_and_proxies() -> None:
    assert client_ip("2001:db8::1", None, PROXIES) == "2001:db8::1"
    assert client_ip("fd00::5", "2001:4860:4860::8888", PROXIES) == "2001:4860:4860::8888"
    assert client_ip("::ffff:81.2.69.160", None, PROXIES) == "81.2.69.160"
