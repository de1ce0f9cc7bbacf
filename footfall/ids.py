"""Event ids: UUIDv7 (RFC 9562), which begin with their creation time in milliseconds.

Any UUID is accepted as an event id, but ids that grow with time land at the end of the stores' id
indexes instead of at random places in them: SQLite writes about half as many pages per batch
(see bench/bench_drainer.py). The tracker, the Django shim and the collector all make these.
"""

from __future__ import annotations

import os
import time


def uuid7(ms: int | None = None) -> str:
    """48 bits of Unix time in ms, version 7, then 74 random bits (with the RFC 4122 variant)."""
    ms = time.time_ns() // 1_000_000 if ms is None else ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 64 & 0xFFF) << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    hex = f"{value:032x}"
    return f"{hex[:8]}-{hex[8:12]}-{hex[12:16]}-{hex[16:20]}-{hex[20:]}"
