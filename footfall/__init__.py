"""Footfall: real-time event collection for learning websites.

This package holds what the services share: settings, event schemas, Redis key names, sites, stores
and the `footfall` command. `collector/` and `drainer/` import it, never each other.
"""

__version__ = "0.1.0"
