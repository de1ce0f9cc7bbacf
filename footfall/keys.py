"""Every Redis key Footfall uses, named in one place.

A stream's keys share a hash tag (`{website_logs}`), so that each stream's queue and processing lists
live in one Redis Cluster slot and the Lua scripts that move between them stay atomic there.
"""

from __future__ import annotations

PREFIX = "footfall"
DRAINERS = f"{PREFIX}:drainers"  # set of drainer ids that may own processing lists
READY_PROBE = f"{PREFIX}:ready-probe"  # written by /readyz: Redis that refuses writes is not ready
STATS = f"{PREFIX}:stats"  # hash of counters: drained:<stream>, duplicates:<stream>, dead_lettered:<stream>


def queue(stream: str) -> str:
    """Events waiting to be written: collectors LPUSH, drainers take from the right."""
    return f"{PREFIX}:{{{stream}}}:queue"


def processing(stream: str, drainer_id: str) -> str:
    """The batch one drainer is writing; emptied only after the store has it."""
    return f"{PREFIX}:{{{stream}}}:processing:{drainer_id}"


def heartbeat(drainer_id: str) -> str:
    """Exists while the drainer lives; its lists are re-queued by others once it expires."""
    return f"{PREFIX}:drainer:{drainer_id}"


def rate(scope: str, who: str, window: int) -> str:
    """Requests counted in one minute's window, per client IP or per site."""
    return f"{PREFIX}:rate:{scope}:{who}:{window}"


def stat(counter: str, stream: str) -> str:
    """A field of the STATS hash."""
    return f"{counter}:{stream}"
