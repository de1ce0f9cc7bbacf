"""Which client address to believe: the peer's, or X-Forwarded-For hop by hop from trusted proxies only.

Shared by the collector (browser events) and the Django shim (server events).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The client's address: X-Forwarded-For is believed only hop by hop from trusted proxies."""
    if peer is None:
        return None
    address = _address(peer)
    if address is None:
        return None
    if not forwarded_for or not _trusted(address, trusted):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop.strip())
        if hop_address is None:
            break  # garbage in the header: stop at the last address we can vouch for
        address = hop_address
        if not _trusted(address, trusted):
            break
    return str(address)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def valid_ip(text: str) -> bool:
    return _address(text) is not None


def anonymize(ip: str | None, mode: str) -> str | None:
    """Before storage (after geolocation): keep, zero the last octet (IPv4) or 80 bits (IPv6), or drop."""
    if ip is None or mode == "none":
        return ip
    if mode == "drop":
        return None
    address = _address(ip)
    if address is None:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
