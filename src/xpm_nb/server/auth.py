"""The monitoring server's token: who may read the page and act on jobs.

A request carries the token in one of: ``Authorization: Bearer <token>``,
``X-XPM-Token: <token>``, ``?token=<token>`` or the ``xpm_nb_token`` cookie
(set when the page is opened with ``?token=``). No token: 401; a wrong one: 403.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from http.cookies import CookieError, SimpleCookie

__all__ = ["COOKIE", "new_token", "request_token", "check_token"]

COOKIE = "xpm_nb_token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def request_token(headers, query: str) -> str | None:
    """The token a request carries (header, query or cookie), None if none."""
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if headers.get("X-XPM-Token"):
        return headers["X-XPM-Token"].strip()
    values = urllib.parse.parse_qs(query).get("token")
    if values:
        return values[0]
    raw = headers.get("Cookie")
    if raw:
        try:
            cookie = SimpleCookie(raw)
        except CookieError:
            return None
        if COOKIE in cookie:
            return cookie[COOKIE].value
    return None


def check_token(expected: str, given: str | None) -> int:
    """200 if ``given`` is the token, 401 if there is none, 403 if it is wrong."""
    if not given:
        return 401
    return 200 if hmac.compare_digest(expected.encode(), given.encode()) else 403
