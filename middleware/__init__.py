"""Footfall for Django: log every request server-side without ever slowing or breaking the site.

    INSTALLED_APPS += ["footfall_django"]
    MIDDLEWARE += ["footfall_django.middleware.FootfallMiddleware"]
    FOOTFALL = {"COLLECTOR_URL": "https://collector.example.org", "SECRET": "…", "PUBLIC_KEY": "pk_…"}

(This folder, `middleware/`, is installed as the package `footfall_django`.)
"""

from __future__ import annotations

from typing import Any


def stats() -> dict[str, Any]:
    """This process's sender: events queued, sent, dropped (queue full or refused), failed batches."""
    from footfall_django.sender import current_stats

    return current_stats()
