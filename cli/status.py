"""`footfall status`: queue depths, in-flight batches, drainers, counters and stored documents."""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis import Redis

from footfall import keys
from footfall.codec import format_datetime
from footfall.queue import oldest_age, peek_oldest
from footfall.schemas import COLLECTIONS, IMPORTS, STREAMS
from footfall.settings import Settings
from footfall.stores import Store, StoreUnavailable, store_from
from footfall.urls import redact


def gather(settings: Settings) -> dict[str, Any]:
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    try:
        stats = {k.decode(): float(v) for k, v in redis.hgetall(keys.STATS).items()}
        streams = {}
        now = time.time()
        for stream in STREAMS:
            in_flight = sum(redis.llen(k) for k in redis.scan_iter(match=keys.processing(stream, "*")))
            oldest = peek_oldest(redis, keys.queue(stream))
            streams[stream] = {
                "waiting": redis.llen(keys.queue(stream)),
                "oldest_age_s": round(oldest_age(oldest, now), 3),
                "in_flight": in_flight,
                "accepted": int(stats.get(keys.stat("accepted", stream), 0)),
                **{c: int(stats.get(keys.stat(c, stream), 0)) for c in ("drained", "duplicates", "dead_lettered")},
                "write_ms_mean": round(1000 * stats.get(keys.stat("write_seconds", stream), 0.0)
                                       / max(1.0, stats.get(keys.stat("writes", stream), 0.0)), 2),
            }
        drainers = {}
        for raw in redis.smembers(keys.DRAINERS):
            beat = redis.get(keys.heartbeat(raw.decode()))
            drainers[raw.decode()] = orjson.loads(beat) if beat else {"alive": False}
    finally:
        redis.close()
    store: dict[str, Any] = {"url": redact(settings.store_url)}
    try:
        db = store_from(settings)
        try:
            store["documents"] = {c: db.count(c) for c in COLLECTIONS}
            store["imports"] = latest_imports(db)
        finally:
            db.close()
    except StoreUnavailable as exc:
        store["error"] = str(exc)
    dead = store.get("documents", {}).get("dead_letters")
    rejected = {k.split(":", 1)[1]: int(v) for k, v in stats.items() if k.startswith("rejected:")}
    return {"streams": streams, "rejected": rejected, "dead_letters": dead, "drainers": drainers, "store": store}


def latest_imports(db: Store, shown: int = 10) -> list[dict[str, Any]]:
    """The ledger's latest files imported (`footfall import-edx`), newest first."""
    entries = sorted(db.find(IMPORTS.collection, limit=100_000), key=lambda d: d["finished_at"], reverse=True)
    return [{"file": d["file"], "finished_at": format_datetime(d["finished_at"]), "lines": d["lines"],
             "stored": d["stored"], "duplicates": d["duplicates"], "refused": sum(d["refused"].values())}
            for d in entries[:shown]]


def render(status: dict[str, Any]) -> str:
    lines = [f"{'stream':<20}{'accepted':>10}{'waiting':>9}{'oldest s':>10}{'in flight':>11}{'drained':>10}"
             f"{'dupes':>8}{'dead':>7}{'write ms':>10}"]
    for name, s in status["streams"].items():
        lines.append(f"{name:<20}{s['accepted']:>10}{s['waiting']:>9}{s['oldest_age_s']:>10.1f}{s['in_flight']:>11}"
                     f"{s['drained']:>10}{s['duplicates']:>8}{s['dead_lettered']:>7}{s['write_ms_mean']:>10.2f}")
    lines.append("rejected: " + (", ".join(f"{r}={n}" for r, n in status["rejected"].items()) or "none"))
    lines.append(f"drainers: {', '.join(status['drainers']) or 'none'}")
    store = status["store"]
    if "error" in store:
        lines.append(f"store {store['url']}: {store['error']}")
    else:
        lines.append(f"store {store['url']}: " + ", ".join(f"{c}={n}" for c, n in store["documents"].items()))
        for entry in store["imports"]:
            lines.append(f"imported {entry['finished_at']} {entry['file']}: {entry['lines']:,} lines, "
                         f"{entry['stored']:,} stored, {entry['duplicates']:,} already there, "
                         f"{entry['refused']:,} refused")
    return "\n".join(lines)
