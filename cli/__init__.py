"""The `footfall` command: run the collector, the drainer or the demo; set up and inspect the store."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from footfall.sites import Sites, SitesError
from footfall.urls import redact

if TYPE_CHECKING:
    from footfall.settings import Settings

log = logging.getLogger("footfall")


class Refusal(Exception):
    """What a command cannot do, said in one line (exit status 2)."""


def day(text: str | None, option: str) -> date | None:
    """A --from/--to day."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Refusal(f"{option} {text}: expected a day, YYYY-MM-DD") from None


def load_sites(settings: Settings) -> Sites:
    if settings.sites is None:
        raise SitesError("FOOTFALL_SITES is not set: point it at a sites file (see README, 'Sites')")
    return Sites.load(settings.sites)


def cmd_collector(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from footfall.collector.app import create_app

    app = create_app(settings, load_sites(settings))
    # proxy_headers=False: the collector decides whom to believe about X-Forwarded-For (trusted_proxies).
    # limit_concurrency: past FOOTFALL_MAX_CONNECTIONS open connections uvicorn answers 503 at once.
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools", access_log=False,
                limit_concurrency=settings.max_connections,
                log_config=None, proxy_headers=False, timeout_graceful_shutdown=5)
    return 0


def cmd_drainer(settings: Settings, args: argparse.Namespace) -> int:
    from footfall.drainer.worker import Drainer, DrainerIdInUse

    if args.id:
        settings = settings.model_copy(update={"drainer_id": args.id})
    drainer = Drainer(settings)
    drainer.install_signal_handlers()
    try:
        drainer.run(until_empty=args.until_empty, streams=args.streams.split(",") if args.streams else None)
    except DrainerIdInUse as exc:
        log.error("%s", exc)
        return 2
    return 1 if drainer.failed else 0


def cmd_init_db(settings: Settings, args: argparse.Namespace) -> int:
    from footfall import parts
    from footfall.stores import store_from

    store = store_from(settings)
    parts.init(store)
    store.close()
    print("store ready: collections, validators and indexes are in place")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from footfall.cli.status import gather, render

    status = gather(settings)
    print(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode() if args.json else render(status))
    return 0


def cmd_prune(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from footfall.stores import store_from

    days = args.days if args.days is not None else settings.retention_days
    if days <= 0:
        print("footfall: nothing to prune: set FOOTFALL_RETENTION_DAYS or pass --days", file=sys.stderr)
        return 2
    store = store_from(settings)
    deleted = store.prune(datetime.now(UTC) - timedelta(days=days))
    store.close()
    print(orjson.dumps({"older_than_days": days, "deleted": deleted}).decode())
    return 0


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    from footfall import parts
    from footfall.stores import store_from

    store = store_from(settings)
    deleted = parts.forget(store, args.user, args.site)
    store.close()
    print(orjson.dumps({"user": args.user, "deleted": deleted}).decode())
    return 0


def cmd_import_edx(settings: Settings, args: argparse.Namespace) -> int:
    from footfall.cli.progress import Meter
    from footfall.edx.files import PathError, expand
    from footfall.edx.importer import Filters, Importer
    from footfall.stores import store_from

    if args.follow:
        return follow_edx(settings, args)
    try:
        sources = expand(args.paths)
    except PathError as exc:
        raise Refusal(str(exc)) from None
    filters = Filters(frozenset(args.course or ()), day(args.since, "--from"), day(args.until, "--to"))
    store = store_from(settings)
    try:
        store.init()
        meter = Meter(sources, quiet=args.json or not sys.stderr.isatty())
        reports = Importer(store, site=args.site, filters=filters, ip_anonymize=settings.ip_anonymize).run(
            sources, meter.update)
        meter.close()
    finally:
        store.close()
    totals = {key: sum(r.as_dict()[key] for r in reports) for key in ("lines", "stored", "duplicates", "skipped",
                                                                     "filtered")}
    refused = sum((r.refused for r in reports), Counter())
    summary = {"files": [r.as_dict() for r in reports], **totals, "refused": dict(refused)}
    if args.json:
        print(orjson.dumps(summary).decode())
    else:
        files = f"{len(reports)} file" + "s" * (len(reports) != 1)
        print(f"{files}, {totals['lines']:,} lines: {totals['stored']:,} stored, "
              f"{totals['duplicates']:,} already there, {totals['skipped']:,} blank or comments, "
              f"{totals['filtered']:,} filtered out, {sum(refused.values()):,} refused"
              + "".join(f"\n  {n:,} {reason}" for reason, n in refused.most_common()))
    return 0


def follow_edx(settings: Settings, args: argparse.Namespace) -> int:
    """`import-edx --follow FILE`: until SIGINT or SIGTERM, then one ledger entry per file followed."""
    import hashlib
    import signal
    import threading
    from datetime import UTC, datetime
    from pathlib import Path

    from footfall.edx.follow import Follower, default_state
    from footfall.edx.importer import FileReport, Importer
    from footfall.stores import store_from

    if len(args.paths) != 1 or args.paths[0] == "-" or not Path(args.paths[0]).is_file():
        raise Refusal("--follow takes one file (a growing tracking.log)")
    path = Path(args.paths[0])
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    store = store_from(settings)
    store.init()
    importer = Importer(store, site=args.site, ip_anonymize=settings.ip_anonymize)
    started = datetime.now(UTC)
    reports: dict[str, tuple[FileReport, Any, list[int]]] = {}

    def stored(lines: list[tuple[int, bytes]], name: str) -> None:
        report, digest, size = reports.setdefault(name, (FileReport(name), hashlib.sha256(), [0]))
        importer.consume(((n, line, False) for n, line in lines), report, started)
        for _, line in lines:
            digest.update(line + b"\n")
            size[0] += len(line) + 1

    follower = Follower(path, Path(args.state) if args.state else default_state(path), stored)
    try:
        follower.run(stopping.is_set)
    finally:
        follower.close()
        for report, digest, size in reports.values():
            importer.ledger(report, size[0], digest.hexdigest(), started)
        store.close()
    return 0


def cmd_import_structure(settings: Settings, args: argparse.Namespace) -> int:
    from collections import Counter as Tally
    from pathlib import Path

    from footfall.codec import Invalid
    from footfall.edx.structure import StructureError, load
    from footfall.stores import store_from

    try:
        text = Path(args.file).read_bytes()
    except OSError as exc:
        raise Refusal(f"{args.file}: {exc.strerror}") from None
    store = store_from(settings)
    try:
        store.init()
        docs = load(store, text, args.course)
    except (StructureError, Invalid) as exc:
        raise Refusal(f"{args.file}: {exc}") from None
    finally:
        store.close()
    kinds = Tally(d["category"] for d in docs)
    summary = {"course": docs[0]["course_id"], "blocks": len(docs), "by_category": dict(kinds)}
    print(orjson.dumps(summary).decode() if args.json else
          f"{summary['course']}: {len(docs)} blocks (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, time, timedelta

    from footfall.edx import export
    from footfall.stores import store_from

    first, last = day(args.since, "--from"), day(args.until, "--to")
    since = datetime.combine(first, time(), UTC) if first else None
    until = datetime.combine(last, time(), UTC) + timedelta(days=1) if last else None
    store = store_from(settings)
    try:
        out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115
        try:
            written = export.write(export.events(store, args.course, since, until), out, args.format)
        finally:
            if args.out:
                out.close()
    finally:
        store.close()
    print(f"{written:,} events of {args.course}", file=sys.stderr)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from footfall.cli.demo import run_demo

    return run_demo(args.port, args.dir)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="footfall", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collector", help="run the HTTP collector (uvicorn)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8000)
    c.set_defaults(run=cmd_collector)
    d = sub.add_parser("drainer", help="move events from Redis into the store")
    d.add_argument("--id", help="stable drainer id, unique among running drainers (default: host name)")
    d.add_argument("--until-empty", action="store_true", help="exit once every stream is empty")
    d.add_argument("--streams", help="comma-separated streams to drain (default: all)")
    d.set_defaults(run=cmd_drainer)
    m = sub.add_parser("demo", help="run Redis, collector, drainer and a demo page on embedded defaults")
    m.add_argument("--port", type=int, default=8000, help="demo page port; the collector takes the next one")
    m.add_argument("--dir", default="footfall-demo", help="where Redis, the sites file and the database live")
    m.set_defaults(run=cmd_demo)
    i = sub.add_parser("init-db", help="create collections, validators and indexes (idempotent)")
    i.set_defaults(run=cmd_init_db)
    r = sub.add_parser("prune", help="delete raw events older than the retention period (SQLite; MongoDB uses TTL)")
    r.add_argument("--days", type=int, help="instead of FOOTFALL_RETENTION_DAYS")
    r.set_defaults(run=cmd_prune)
    f = sub.add_parser("forget", help="erase one user's events and progress (right to erasure)")
    f.add_argument("--user", required=True, help="the user id, as the site sends it")
    f.add_argument("--site", help="only on this site (default: every site)")
    f.set_defaults(run=cmd_forget)
    e = sub.add_parser("import-edx", help="import edX / Open edX tracking logs into edx_events")
    e.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, globs, or - for standard input")
    e.add_argument("--site", default="edx", help="what the events' site is (default: edx)")
    e.add_argument("--course", action="append", help="only this course id (repeatable)")
    e.add_argument("--from", dest="since", help="only events on or after this day (YYYY-MM-DD, UTC)")
    e.add_argument("--to", dest="until", help="only events on or before this day (YYYY-MM-DD, UTC)")
    e.add_argument("--json", action="store_true", help="no progress; one JSON summary")
    e.add_argument("--follow", action="store_true", help="follow one growing file (tracking.log) until stopped")
    e.add_argument("--state", help="with --follow: where its checkpoint is kept (default: FILE.footfall-follow)")
    e.set_defaults(run=cmd_import_edx)
    t = sub.add_parser("import-edx-structure", help="load a course's structure (blocks, names, order)")
    t.add_argument("file", help="the research package's course-structure JSON")
    t.add_argument("--course", help="the course id (default: from the course block's id)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(run=cmd_import_structure)
    x = sub.add_parser("export", help="one course's imported events, in time order (JSON lines or CSV)")
    x.add_argument("--course", required=True, help="the course id, exactly")
    x.add_argument("--from", dest="since", help="from this day (YYYY-MM-DD, UTC)")
    x.add_argument("--to", dest="until", help="to this day, included")
    x.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    x.add_argument("--out", help="a file (default: standard output)")
    x.set_defaults(run=cmd_export)
    s = sub.add_parser("status", help="queue depths, drainers, counters, stored documents")
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except ModuleNotFoundError as exc:  # a plain install (what a Django site needs) has no server parts
        print(f"footfall: {exc.name} is not installed; the footfall command needs the server parts: "
              "pip install 'footfall[server]'", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from redis.exceptions import RedisError

    from footfall import logs
    from footfall.settings import Settings
    from footfall.stores import StoreUnavailable

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"FOOTFALL_{'_'.join(map(str, e['loc'])).upper()}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        print(f"footfall: bad configuration: {problems}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    try:
        return int(args.run(settings, args))
    except (SitesError, StoreUnavailable, Refusal) as exc:
        print(f"footfall: {exc}", file=sys.stderr)
        return 2
    except RedisError as exc:
        print(f"footfall: redis at {redact(settings.redis_url)}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
