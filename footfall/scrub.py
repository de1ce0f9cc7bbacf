"""One scrubber for secrets, used by the Django shim before it sends and by the collector before it queues.

Secrets reach a log by three roads, and each is closed here:
- query (and fragment) parameters of `url` and `referrer` whose names look secret
  (`/login/?next=/&token=T&password=P` is kept as `/login/?next=%2F`);
- keys that look secret anywhere in free-form data (`post_data`, `props`, `view_kwargs`), at any depth;
- path segments that are secrets themselves, named by URL patterns: Django's password-reset view
  (`…/reset/<uidb64>/<token>/`) out of the box, and any pattern an operator marks secret (its groups are
  replaced by `:secret:`).

A name looks secret when one of its words is a short secret word (`pass`, `pwd`, `pin`, `otp`, `cvv`, …) or
its letters hold a longer one (`password`, `passphrase`, `secret`, `token`, `apikey`, `ccnumber`, …), or an
operator's word. Words come from splitting on anything not a letter or digit and on camelCase
(`apiKey` → api, key → `apikey`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Whole words only: as substrings these would hit harmless names (compass, spinner, hotpath).
SECRET_WORDS = frozenset({"pass", "pwd", "pin", "otp", "cvv", "cvc", "ssn", "auth", "sig"})
# Anywhere in a name's letters, separators removed: cc_number, api-key, x_csrftoken, security_code.
SECRET_PARTS = ("password", "passwd", "passphrase", "secret", "token", "csrf", "apikey", "accesskey", "privatekey",
                "ccnumber", "cardnumber", "creditcard", "securitycode", "authcode", "sessionid", "signature")
REDACTED = ":secret:"
# Django's password-reset confirmation (django.contrib.auth.urls): both the user id and the token.
DJANGO_PASSWORD_RESET = r"/reset/(?P<uidb64>[^/]+)/(?P<token>[^/]+)/"
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class Pattern(Protocol):
    """What the scrubber needs of a compiled pattern (the stdlib's `re`, or RE2's in the collector)."""

    def search(self, text: str) -> Any: ...


@dataclass(frozen=True)
class Scrubber:
    words: tuple[str, ...] = ()  # an operator's words, matched anywhere in a name (lowercase)
    paths: tuple[Pattern, ...] = field(default_factory=lambda: (re.compile(DJANGO_PASSWORD_RESET),))
    path: Callable[[str], str] = field(init=False, repr=False, compare=False)
    url: Callable[[str], str] = field(init=False, repr=False, compare=False)
    is_secret: Callable[[object], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Pages, referrers and field names repeat endlessly: remember what each one became (hot paths).
        object.__setattr__(self, "path", lru_cache(maxsize=8192)(self._path))
        object.__setattr__(self, "url", lru_cache(maxsize=8192)(self._url))
        object.__setattr__(self, "is_secret", lru_cache(maxsize=8192)(self._is_secret))

    def _is_secret(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        words = [w.lower() for w in _WORDS.findall(name)]
        if SECRET_WORDS.intersection(words):
            return True
        letters = "".join(words)
        return any(part in letters for part in SECRET_PARTS) or any(w in name.lower() for w in self.words)

    def _path(self, path: str) -> str:
        """Secret path segments replaced; the rest of the path as it was."""
        for pattern in self.paths:
            match = pattern.search(path)
            if match is None:
                continue
            spans = sorted(match.span(g) for g in range(1, len(match.groups()) + 1) if match.span(g)[0] >= 0)
            for start, end in reversed(spans):
                path = path[:start] + REDACTED + path[end:]
        return path

    def _url(self, url: str) -> str:
        """A URL (absolute or a path) without secret parameters in its query or fragment, nor secret path
        segments. One that cannot be parsed keeps only what comes before its query."""
        if "?" not in url and "#" not in url:
            return self.path(url)
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.path(url.split("?", 1)[0].split("#", 1)[0])
        query = self._parameters(parts.query)
        fragment = self._parameters(parts.fragment) if "=" in parts.fragment else parts.fragment
        return urlunsplit((parts.scheme, parts.netloc, self.path(parts.path), query, fragment))

    def query(self, text: str) -> str:
        """`key=value&…` text (a query string, a form body) without its secret parameters."""
        return self._parameters(text)

    def _parameters(self, text: str) -> str:
        if not text:
            return text
        pairs = parse_qsl(text, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not self.is_secret(k)]
        return text if len(kept) == len(pairs) else urlencode(kept)

    def tree(self, value: Any) -> Any:
        """Free-form data without secret keys, at any depth."""
        if isinstance(value, dict):
            return {k: self.tree(v) for k, v in value.items() if not self.is_secret(k)}
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value

    def event(self, doc: dict[str, Any], free: Iterable[str] = ("post_data", "props", "view_kwargs")) -> None:
        """Scrub an event in place: its URLs, its path, and its free-form fields."""
        for name in ("url", "referrer"):
            if isinstance(doc.get(name), str):
                doc[name] = self.url(doc[name])
        if isinstance(doc.get("path"), str):
            doc["path"] = self.path(doc["path"])
        for name in free:
            if doc.get(name) is not None:
                doc[name] = self.tree(doc[name])
