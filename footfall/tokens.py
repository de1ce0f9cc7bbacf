"""Signed, short-lived user tokens: how a browser event is tied to a learner it cannot just claim to be.

The site's server (the Django template tag) issues an HS256 JWT with the site secret; the collector
verifies it. A user name that a browser sends without a valid token is never believed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

AUDIENCE = "footfall"
ALGORITHM = "HS256"
LEEWAY_S = 30


class InvalidToken(Exception):
    """Missing, expired, forged or malformed; the message says which, never the token."""


@dataclass(frozen=True)
class User:
    id: str
    name: str | None = None


def issue(secret: str, user_id: str, username: str | None = None, ttl_s: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": str(user_id), "aud": AUDIENCE, "iat": now, "exp": now + ttl_s}
    if username:
        claims["name"] = username
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str | None, secret: str) -> User:
    if not token:
        raise InvalidToken("no user token")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, leeway=LEEWAY_S,
                            options={"require": ["sub", "exp", "aud"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("user token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"user token invalid: {type(exc).__name__}") from None
    name = claims.get("name")
    return User(id=str(claims["sub"])[:128], name=str(name)[:256] if name else None)
