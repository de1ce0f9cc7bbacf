"""Sites: who may send events, from where, and how their URLs are named.

The sites file (FOOTFALL_SITES) is TOML:

    [[site]]
    id = "tutorials"
    public_key = "pk_…"            # in the browser tracker's <script> tag; not a secret
    secret = "sk_…"                # the Django shim's bearer token, and the key of learners' JWTs
    origins = ["https://tutorials.example.org"]   # "*" allows any origin
    default_event_name = "event.page"             # for paths no pattern matches
    event_names = [["^/$", "event.home.view"], ["^/watch/", "event.video.watch"]]
    scrub_words = ["sessionkey"]   # more names never stored (query parameters, form and free-form keys)
    secret_paths = ["^/invite/(?P<code>[^/]+)/"]   # path segments never stored: each group becomes :secret:

Patterns are RE2 (linear time: a path can never stall the collector), searched anywhere in the path
unless anchored; one RE2 cannot compile (a backreference, a lookaround) is refused when the file loads.
Django's password-reset URL is always a secret path.

    [[site.course]]                # what "course completion" is out of, for the progress API
    foss = "BASH"
    language = "English"           # leave out: the same for every language
    tutorials = ["intro", "loops"] # or: count = 23
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from footfall.scrub import DJANGO_PASSWORD_RESET, Pattern, Scrubber


class SitesError(ValueError):
    """The sites file is missing or wrong; the message says where."""


@dataclass(frozen=True)
class Course:
    tutorials: tuple[str, ...] = ()  # in order, when the site lists them
    count: int = 0

    @property
    def size(self) -> int:
        return len(self.tutorials) or self.count


@dataclass(frozen=True)
class Site:
    id: str
    public_key: str
    secret: str = field(repr=False)
    origins: frozenset[str]
    event_names: tuple[tuple[Pattern, str], ...] = ()
    default_event_name: str = "event.page"
    courses: dict[tuple[str, str], Course] = field(default_factory=dict, compare=False)
    scrubber: Scrubber = field(default_factory=Scrubber, compare=False)
    event_name: Callable[[str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Paths repeat endlessly; remember what each one was named.
        object.__setattr__(self, "event_name", lru_cache(maxsize=8192)(self._event_name))

    def _event_name(self, path: str) -> str:
        for pattern, name in self.event_names:
            if pattern.search(path):
                return name
        return self.default_event_name

    def course(self, foss: str, language: str) -> Course | None:
        return self.courses.get((foss, language)) or self.courses.get((foss, ""))

    def allows_origin(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin in self.origins)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Sites:
    """Look-ups by public key and by secret (hashed, so a look-up's timing tells nothing)."""

    def __init__(self, sites: list[Site]) -> None:
        self.all = tuple(sites)
        self._by_key = {s.public_key: s for s in sites}
        self._by_secret = {_digest(s.secret): s for s in sites}
        self.origins = frozenset(o for s in sites for o in s.origins)

    def by_key(self, key: str | None) -> Site | None:
        return self._by_key.get(key) if key else None

    def by_secret(self, secret: str | None) -> Site | None:
        return self._by_secret.get(_digest(secret)) if secret else None

    def any_allows_origin(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin in self.origins)

    @classmethod
    def load(cls, path: Path) -> Sites:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise SitesError(f"sites file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SitesError(f"sites file {path}: {exc}") from None
        return cls([_site(entry, f"{path} [[site]] #{i + 1}") for i, entry in enumerate(data.get("site", []))])


def compile_pattern(pattern: str, where: str) -> Pattern:
    """An operator's pattern as RE2: matching takes time linear in the path, whatever the pattern."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is ours to report, once, naming the file
    try:
        return re2.compile(pattern, options=options)  # type: ignore[no-any-return]
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise SitesError(f"{where}: pattern {pattern!r} is not RE2 (linear-time) syntax: {message}") from None


def _strings(entry: dict[str, Any], name: str, where: str) -> list[str]:
    value = entry.get(name, [])
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise SitesError(f"{where}: '{name}' must be a list of strings")
    return value


def _site(entry: dict[str, Any], where: str) -> Site:
    for name in ("id", "public_key", "secret"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise SitesError(f"{where}: '{name}' must be a non-empty string")
    if len(entry["secret"]) < 32:
        raise SitesError(f"{where}: 'secret' must be at least 32 characters (it signs user tokens)")
    names = []
    for pair in entry.get("event_names", []):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise SitesError(f"{where}: each of 'event_names' is [pattern, name]")
        names.append((compile_pattern(pair[0], where), pair[1]))
    secret_paths = [compile_pattern(p, where) for p in [DJANGO_PASSWORD_RESET, *_strings(entry, "secret_paths", where)]]
    scrubber = Scrubber(tuple(w.lower() for w in _strings(entry, "scrub_words", where)), tuple(secret_paths))
    courses = {}
    for i, course in enumerate(entry.get("course", [])):
        tutorials, count = course.get("tutorials", []), course.get("count", 0)
        if not isinstance(course.get("foss"), str) or not (
                isinstance(tutorials, list) and all(isinstance(t, str) for t in tutorials) and isinstance(count, int)):
            raise SitesError(f"{where} course #{i + 1}: needs foss, and tutorials (a list of names) or count")
        courses[(course["foss"], course.get("language", ""))] = Course(tuple(tutorials), count)
    return Site(
        id=entry["id"],
        public_key=entry["public_key"],
        secret=entry["secret"],
        origins=frozenset(entry.get("origins", [])),
        event_names=tuple(names),
        default_event_name=entry.get("default_event_name", "event.page"),
        courses=courses,
        scrubber=scrubber,
    )
