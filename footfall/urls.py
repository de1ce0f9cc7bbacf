"""Connection URLs as they may be shown: never with a password."""

from __future__ import annotations


def redact(url: str) -> str:
    """`mongodb://user:pw@host/db` → `mongodb://***@host/db`: what a log line, `footfall status` or an error
    may print."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest
