"""GeoLite2 look-ups: the collector's (geoip2's reader, cached per address) next to the raw database read
(maxminddb) on the same addresses in the same run.

    python bench/bench_geo.py [--addresses 20000]

A request costs one look-up of its client address; a site's visitors come back, so most are cache hits.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time

import maxminddb
from pipeline import machine

from footfall.collector.enrich import Geo, default_geoip_db


def per_lookup(fn: object, addresses: list[str]) -> float:
    started = time.perf_counter()
    for ip in addresses:
        fn(ip)  # type: ignore[operator]
    return (time.perf_counter() - started) / len(addresses) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--addresses", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(7)
    addresses = []
    while len(addresses) < args.addresses:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global:
            addresses.append(str(ip))
    print(f"machine: {machine()}")
    raw = maxminddb.open_database(str(default_geoip_db()), maxminddb.MODE_AUTO)
    geo = Geo(cache_size=len(addresses))
    print(f"maxminddb get (the limit: the database read alone)  {per_lookup(raw.get, addresses):6.2f} µs")
    print(f"collector, first sight of each address (geoip2)     {per_lookup(geo.lookup, addresses):6.2f} µs")
    print(f"collector, a returning address (cache hit)          {per_lookup(geo.lookup, addresses):6.2f} µs")


if __name__ == "__main__":
    main()
