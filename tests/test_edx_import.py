"""Importing edX / Open edX tracking logs (issue 13): fixtures written here from the edX Research Guide's
description of the common fields and event types, every case it lists, with hand-checked results."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from footfall import parts
from footfall.edx.events import Refused, normalise
from footfall.edx.files import PathError, Source, expand
from footfall.edx.importer import Filters, Importer
from footfall.settings import Settings
from footfall.stores import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
COURSE = "course-v1:FootfallX+BASH101+2026_T1"


def event(**fields: Any) -> dict[str, Any]:
    """A server event as the guide describes the common fields; override or drop (None) any."""
    base = {"username": "ada", "event_source": "server", "event_type": "problem_check", "name": "problem_check",
            "time": "2026-03-02T10:15:30.123456+00:00", "ip": "81.2.69.160", "agent": "Mozilla/5.0 (X11)",
            "host": "courses.example.org", "session": "a8f9e1", "referer": "https://courses.example.org/x",
            "accept_language": "en-GB", "page": None,
            "context": {"user_id": 42, "course_id": COURSE, "org_id": "FootfallX", "path": "/event",
                        "module": {"usage_key": "block-v1:FootfallX+BASH101+2026_T1+type@problem+block@q1"}},
            "event": {"problem_id": "block-v1:FootfallX+BASH101+2026_T1+type@problem+block@q1", "attempts": 1}}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def line(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields)


def doc(fields: dict[str, Any]) -> dict[str, Any]:
    return normalise(line(fields), site="edx", received_at=NOW, file="f.log", number=1)


# --- one line ------------------------------------------------------------------------------------------------

def test_a_server_event_is_normalised_with_footfalls_names() -> None:
    d = doc(event())
    assert d["_id"] and len(d["_id"]) == 32 and d["source"] == "edx" and d["type"] == "event"
    assert (d["event_name"], d["event_type"], d["event_source"]) == ("problem_check", "problem_check", "server")
    assert d["timestamp"] == datetime(2026, 3, 2, 10, 15, 30, 123000, tzinfo=UTC)
    assert (d["user_id"], d["username"], d["session_id"], d["ip"]) == ("42", "ada", "a8f9e1", "81.2.69.160")
    assert (d["user_agent"], d["referrer"], d["host"], d["accept_language"]) == (
        "Mozilla/5.0 (X11)", "https://courses.example.org/x", "courses.example.org", "en-GB")
    assert (d["course_id"], d["org_id"], d["path"]) == (COURSE, "FootfallX", "/event")
    assert d["block_id"] == "block-v1:FootfallX+BASH101+2026_T1+type@problem+block@q1"
    assert d["edx"]["event"]["attempts"] == 1 and d["edx"]["context"]["user_id"] == 42  # the original, whole


@pytest.mark.parametrize(("payload", "kept"), [
    ({"a": 1}, {"a": 1}),  # an object (server events)
    ('{"id": "v1", "currentTime": 12.5}', {"id": "v1", "currentTime": 12.5}),  # a JSON string (browser events)
    ("input_q1_2_1=choice_1&input_q1_3_1=7", "input_q1_2_1=choice_1&input_q1_3_1=7"),  # key=value
    ('{"answers": "' + "x" * 490, '{"answers": "' + "x" * 490),  # a POST string cut at 512 characters
    ([1, "two"], [1, "two"]),  # a list
    ("", ""),  # empty
])
def test_the_event_payload_is_parsed_where_it_is_json_and_kept_as_text_where_not(payload: Any, kept: Any) -> None:
    assert doc(event(event=payload))["edx"]["event"] == kept


def test_a_missing_event_payload_is_none() -> None:
    fields = event()
    del fields["event"]
    assert doc(fields)["edx"]["event"] is None


def test_no_user_id_and_an_empty_username_are_anonymous() -> None:
    d = doc(event(username="", context={"course_id": COURSE}))
    assert "user_id" not in d and "username" not in d


@pytest.mark.parametrize(("where", "expected"), [
    ({"context": {"course_id": "FootfallX/BASH101/2014_Spring"}}, "FootfallX/BASH101/2014_Spring"),
    ({"context": {}, "event_type": "/courses/FootfallX/BASH101/2014_Spring/courseware/intro/"},
     "FootfallX/BASH101/2014_Spring"),
    ({"context": {}, "event_type": "/courses/course-v1:FootfallX+BASH101+2026_T1/courseware/"}, COURSE),
    ({"context": {}, "page": "https://x.org/courses/ccx-v1:FootfallX+BASH101+2026_T1+ccx@3/progress"},
     "ccx-v1:FootfallX+BASH101+2026_T1+ccx@3"),
])
def test_course_ids_in_all_three_forms_from_context_event_type_or_page(where: dict[str, Any], expected: str) -> None:
    d = doc(event(**where))
    assert d["course_id"] == expected and d["org_id"] == "FootfallX"


def test_an_implicit_event_is_a_page_request() -> None:
    d = doc(event(event_type="/courses/course-v1:FootfallX+BASH101+2026_T1/courseware/", name=None,
                  event_source="server", event=None))
    assert (d["type"], d["event_name"], d["path"]) == ("request", "edx.request",
                                                       "/courses/course-v1:FootfallX+BASH101+2026_T1/courseware/")


def test_video_events_carry_the_video_and_media_positions() -> None:
    play = doc(event(event_type="play_video", name=None, event_source="browser",
                     event='{"id": "  i4x-FootfallX-video-intro \\n", "currentTime": 61.2, "code": "html5"}'))
    assert (play["video_id"], play["video_position"]) == ("i4x-FootfallX-video-intro", 61.2)
    seek = doc(event(event_type="seek_video", name=None, event='{"id": "v", "old_time": 10, "new_time": 95.5}'))
    assert (seek["seek_from"], seek["seek_to"]) == (10.0, 95.5)
    speed = doc(event(event_type="speed_change_video", name=None,
                      event='{"id": "v", "current_time": 3, "new_speed": "1.50", "old_speed": "1.0"}'))
    assert speed["video_speed"] == 1.5


@pytest.mark.parametrize("time", ["2026-03-02T10:15:30+00:00", "2026-03-02T10:15:30Z", "2026-03-02T10:15:30.000Z",
                                  "2026-03-02T11:15:30.000000+01:00"])
def test_times_with_or_without_fractions_and_with_an_offset_or_z(time: str) -> None:
    assert doc(event(time=time))["timestamp"] == datetime(2026, 3, 2, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "reason"), [
    (b'{"event_type": "x", "context": {}}', "no time"),
    (b'{"time": "yesterday", "event_type": "x"}', "unparseable time"),
    (b'{"time": "2026-03-02T10:15:30Z", "event_type": 7}', "wrong type: event_type"),
    (b'{"time": "2026-03-02T10:15:30Z", "event_type": "x", "context": "c"}', "wrong type: context"),
    (b"not json", "not JSON"),
    (b'["a list"]', "not a JSON object"),
    (b'{"time": "2026-03-02T10:15:30Z", "event_type": "x", "username": "\xff\xfe"}', "invalid UTF-8"),
])
def test_lines_that_cannot_be_events_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        normalise(raw, site="edx", received_at=NOW)


def test_keys_a_store_cannot_hold_are_kept_readable() -> None:
    d = doc(event(event={"$where": 1, "a.b": 2, "deep": {"1": {"2": {"3": {"4": {"5": 6}}}}}}))
    assert d["edx"]["event"]["＄where"] == 1 and d["edx"]["event"]["a．b"] == 2
    assert isinstance(d["edx"]["event"]["deep"]["1"]["2"]["3"], str)  # past the stores' depth: its JSON text


# --- files ---------------------------------------------------------------------------------------------------

def log(path: Path, lines: list[bytes], compress: bool | None = None) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if (compress if compress is not None else path.suffix == ".gz") else data)
    return path


def fixture_lines() -> list[bytes]:
    return [
        b"# a comment line",
        line(event()),
        b"",
        line(event(time="2026-03-02T10:16:00Z", event_type="play_video", name=None, event_source="browser",
                   event='{"id": "v1", "currentTime": 0}')),
        line(event(time="2026-03-03T09:00:00Z", context={"user_id": 7, "course_id": "Other/C/1"})),
        b"not json at all",
        line(event()),  # byte-identical to the second line: the same event
        line(event(time=None)),
    ]


@pytest.fixture
def importer(store: Store) -> Importer:
    return Importer(store)


def test_a_file_is_imported_with_bad_lines_dead_lettered_and_a_ledger_entry(
        tmp_path: Path, store: Store, importer: Importer) -> None:
    path = log(tmp_path / "FootfallX-edx-events-2026-03-02.log.gz", fixture_lines())
    [report] = importer.run(expand([str(path)]))
    assert (report.lines, report.stored, report.duplicates, report.skipped) == (8, 3, 1, 2)
    assert dict(report.refused) == {"not JSON": 1, "no time": 1}
    assert store.count("edx_events") == 3
    letters = sorted(store.find("dead_letters"), key=lambda d: d["line"])
    assert [(d["file"], d["line"], d["reason"]) for d in letters] == [(str(path), 6, "not JSON"),
                                                                      (str(path), 8, "no time")]
    [ledger] = store.find("imports")
    assert (ledger["file"], ledger["lines"], ledger["stored"], ledger["duplicates"]) == (str(path), 8, 3, 1)
    assert ledger["refused"] == {"not JSON": 1, "no time": 1} and len(ledger["sha256"]) == 64


def test_importing_again_or_an_overlapping_file_adds_nothing(tmp_path: Path, store: Store, importer: Importer) -> None:
    first = log(tmp_path / "a.log", fixture_lines())
    overlap = log(tmp_path / "b.log", [*fixture_lines()[3:], line(event(time="2026-03-04T00:00:00Z"))])
    importer.run(expand([str(first)]))
    [again] = importer.run(expand([str(first)]))
    assert (again.stored, again.duplicates) == (0, 4)
    [other] = importer.run(expand([str(overlap)]))
    assert (other.stored, other.duplicates) == (1, 3)
    assert store.count("edx_events") == 4 and store.count("dead_letters") == 2 + 2  # each file's own bad lines


def test_a_gzip_file_cut_short_keeps_every_whole_line_and_dead_letters_the_last(
        tmp_path: Path, store: Store, importer: Importer) -> None:
    events = [line(event(time=f"2026-03-02T10:{m:02d}:00Z")) for m in range(60)]
    whole = gzip.compress(b"\n".join(events) + b"\n")
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    [report] = importer.run(expand([str(path)]))
    assert report.refused == {"truncated (the gzip stream ends before the line does)": 1}
    assert report.stored == report.lines - 1 and 0 < report.stored < 60


def test_filters_keep_exact_courses_and_days(tmp_path: Path, store: Store) -> None:
    path = log(tmp_path / "f.log", fixture_lines())
    [report] = Importer(store, filters=Filters(frozenset({COURSE}))).run(expand([str(path)]))
    assert (report.stored, report.filtered) == (2, 1)
    [report] = Importer(store, filters=Filters(since=datetime(2026, 3, 3).date())).run(expand([str(path)]))
    assert (report.stored, report.duplicates, report.filtered) == (1, 0, 3)


def test_privacy_applies_to_imported_events(tmp_path: Path, store: Store) -> None:
    secret = event(page="https://courses.example.org/login?next=/&password=HUNTER2",
                   event="username=ada&password=HUNTER2&course=x")
    log(tmp_path / "p.log", [line(secret)])
    Importer(store, ip_anonymize="truncate").run(expand([str(tmp_path / "p.log")]))
    [stored] = store.find("edx_events")
    assert stored["ip"] == "81.2.69.0" and stored["edx"]["ip"] == "81.2.69.0"
    assert "HUNTER2" not in orjson.dumps(stored, default=str).decode()
    assert parts.forget(store, "42")["edx_events"] == 1 and store.count("edx_events") == 0


def test_paths_are_files_directories_and_globs_and_a_missing_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "2026" / "03").mkdir(parents=True)
    for name in ("2026/03/x-edx-events-2026-03-01.log.gz", "2026/03/x-edx-events-2026-03-02.log", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [Path(s.name).name for s in expand([str(tmp_path)])] == ["x-edx-events-2026-03-01.log.gz",
                                                                     "x-edx-events-2026-03-02.log"]
    assert len(expand([str(tmp_path / "2026/*/*.log*")])) == 2
    with pytest.raises(PathError, match=r"nope\.log: no such file"):
        expand([str(tmp_path / "nope.log")])
    assert expand(["-"])[0].path is None and isinstance(expand(["-"])[0], Source)


def test_the_command_streams_standard_input_and_prints_a_json_summary(tmp_path: Path, settings: Settings) -> None:
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_STORE_URL": settings.store_url, "FOOTFALL_REDIS_URL": settings.redis_url}
    data = gzip.compress(b"\n".join(fixture_lines()) + b"\n")
    gunzip = subprocess.run(["gunzip", "-c"], input=data, capture_output=True, check=True).stdout
    result = subprocess.run([sys.executable, "-m", "footfall.cli", "import-edx", "-", "--json"], input=gunzip,
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert (summary["lines"], summary["stored"], summary["duplicates"], summary["skipped"]) == (8, 3, 1, 2)
    assert summary["refused"] == {"not JSON": 1, "no time": 1} and summary["files"][0]["file"] == "-"
    missing = subprocess.run([sys.executable, "-m", "footfall.cli", "import-edx", str(tmp_path / "none.log.gz")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "none.log.gz" in missing.stderr
    status = subprocess.run([sys.executable, "-m", "footfall.cli", "status"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert "imported " in status.stdout and " -: 8 lines, 3 stored, 1 already there, 2 refused" in status.stdout


# --- export ----------------------------------------------------------------------------------------------------

def test_a_courses_events_are_exported_in_time_order_as_json_lines_or_csv(
        tmp_path: Path, store: Store, settings: Settings) -> None:
    import csv
    import io

    from footfall.edx import export

    times = ["2026-03-03T09:00:00Z", "2026-03-01T08:00:00Z", "2026-03-02T10:00:00.500Z", "2026-04-01T00:00:00Z"]
    lines = [line(event(time=t)) for t in times] + [line(event(time="2026-03-02T00:00:00Z",
                                                              context={"course_id": "Other/C/1"}))]
    Importer(store).run(expand([str(log(tmp_path / "e.log", lines))]))
    march = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    out = io.StringIO()
    assert export.write(export.events(store, COURSE, *march), out, "jsonl") == 3
    rows = [orjson.loads(r) for r in out.getvalue().splitlines()]
    assert [r["timestamp"] for r in rows] == ["2026-03-01T08:00:00.000Z", "2026-03-02T10:00:00.500Z",
                                              "2026-03-03T09:00:00.000Z"]
    assert rows[0]["edx"]["context"]["course_id"] == COURSE  # the whole document
    out = io.StringIO()
    assert export.write(export.events(store, COURSE, None, None), out, "csv") == 4
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["timestamp"][:10] for r in table] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-04-01"]
    assert table[0]["course_id"] == COURSE and table[0]["user_id"] == "42" and "edx" not in table[0]
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_STORE_URL": settings.store_url}
    result = subprocess.run([sys.executable, "-m", "footfall.cli", "export", "--course", COURSE, "--from",
                             "2026-03-02", "--to", "2026-03-31", "--format", "csv"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1 + 2, result.stderr
    bad = subprocess.run([sys.executable, "-m", "footfall.cli", "export", "--course", COURSE, "--from", "yesterday"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr == "footfall: --from yesterday: expected a day, YYYY-MM-DD\n"


# --- course structure ------------------------------------------------------------------------------------------

STRUCTURE = {
    "block-v1:FootfallX+BASH101+2026_T1+type@course+block@course": {
        "category": "course", "metadata": {"display_name": "BASH for learners"},
        "children": ["block-v1:FootfallX+BASH101+2026_T1+type@chapter+block@w1",
                     "block-v1:FootfallX+BASH101+2026_T1+type@chapter+block@w2"]},
    "block-v1:FootfallX+BASH101+2026_T1+type@chapter+block@w1": {
        "category": "chapter", "metadata": {"display_name": "Week 1"},
        "children": ["block-v1:FootfallX+BASH101+2026_T1+type@video+block@intro",
                     "block-v1:FootfallX+BASH101+2026_T1+type@problem+block@q1"]},
    "block-v1:FootfallX+BASH101+2026_T1+type@chapter+block@w2": {
        "category": "chapter", "metadata": {"display_name": "Week 2"},
        "children": ["block-v1:FootfallX+BASH101+2026_T1+type@video+block@loops"]},
    "block-v1:FootfallX+BASH101+2026_T1+type@video+block@intro": {"category": "video",
                                                                  "metadata": {"display_name": "Intro"}},
    "block-v1:FootfallX+BASH101+2026_T1+type@problem+block@q1": {"category": "problem", "metadata": {}},
    "block-v1:FootfallX+BASH101+2026_T1+type@video+block@loops": {"category": "video",
                                                                  "metadata": {"display_name": "Loops"}},
    "block-v1:FootfallX+BASH101+2026_T1+type@html+block@orphan": {"category": "html", "metadata": {}},
}


def test_a_course_structure_names_and_orders_its_blocks(tmp_path: Path, store: Store, settings: Settings) -> None:
    from footfall.edx.structure import blocks

    docs = blocks(STRUCTURE)
    assert [(d["position"], d["category"], d.get("name")) for d in docs] == [
        (0, "course", "BASH for learners"), (1, "chapter", "Week 1"), (2, "video", "Intro"), (3, "problem", None),
        (4, "chapter", "Week 2"), (5, "video", "Loops")]  # in course order; an orphan block is not in the course
    assert {d["course_id"] for d in docs} == {COURSE} and docs[2]["parent"].endswith("block@w1")
    path = tmp_path / "course_structure.json"
    path.write_bytes(orjson.dumps(STRUCTURE))
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_STORE_URL": settings.store_url}
    for _ in range(2):  # again: replaced, not doubled
        result = subprocess.run([sys.executable, "-m", "footfall.cli", "import-edx-structure", str(path), "--json"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == {"course": COURSE, "blocks": 6,
                                           "by_category": {"course": 1, "chapter": 2, "video": 2, "problem": 1}}
    assert store.count("course_blocks") == 6
    (tmp_path / "bad.json").write_text('{"a": {"category": "video"}}')
    bad = subprocess.run([sys.executable, "-m", "footfall.cli", "import-edx-structure", str(tmp_path / "bad.json")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "category 'course'" in bad.stderr


# --- interrupted -----------------------------------------------------------------------------------------------

def contents(store_url: str) -> tuple[set[str], set[str]]:
    from footfall.stores import open_store

    store = open_store(store_url)
    try:
        events = {d["_id"] for d in store.find("edx_events", limit=1_000_000)}
        letters = {d["_id"] for d in store.find("dead_letters", limit=1_000_000)}
    finally:
        store.close()
    return events, letters


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "kill-9"])
def test_an_import_interrupted_anywhere_and_run_again_ends_as_one_clean_run(tmp_path: Path, how: int) -> None:
    lines = [line(event(time=f"2026-03-02T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z")) if n % 97 else b"bad"
             for n in range(20_000)]
    path = log(tmp_path / "big.log.gz", lines)

    def run(store: Path, stop_after: int | None = None) -> None:
        env = {"PATH": "/usr/bin:/bin", "FOOTFALL_STORE_URL": f"sqlite:///{store}"}
        command = [sys.executable, "-m", "footfall.cli", "import-edx", "--json", str(path)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if stop_after is not None:
            from conftest import wait_until

            from footfall.stores.sqlite import SQLiteStore

            def imported() -> bool:
                if not store.exists():
                    return False
                peek = SQLiteStore(str(store))
                try:
                    return peek.count("edx_events") >= stop_after
                except Exception:
                    return False
                finally:
                    peek.close()

            wait_until(imported, timeout=60, interval=0.02, what="the import to be under way")
            process.send_signal(how)
        process.wait(120)

    run(tmp_path / "clean.db")
    run(tmp_path / "cut.db", stop_after=3_000)
    assert contents(f"sqlite:///{tmp_path / 'cut.db'}")[0] != contents(f"sqlite:///{tmp_path / 'clean.db'}")[0]
    run(tmp_path / "cut.db")
    assert contents(f"sqlite:///{tmp_path / 'cut.db'}") == contents(f"sqlite:///{tmp_path / 'clean.db'}")
