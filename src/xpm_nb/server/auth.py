"""The monitoring server's token: who may read the page and act on jobs.

A request carries the token in one of: ``Authorization: Bearer <token>``,
``X-XPM-Token: <token>``, ``?token=<token>`` or the ``xpm_nb_token`` cookie
(set when the page is opened with ``?token=``). No token: 401; a wrong one: 403.

Reading is allowed with any of them; a request that changes something
(``POST``) must also pass :func:`check_action`: the token in a header (a
cookie is sent by the browser for any page of 127.0.0.1, whatever its port),
``Content-Type: application/json`` and, when the browser sent an ``Origin``,
the server's own origin.
"""

from __future__ import annotations

import hmac
import re
import secrets
import urllib.parse
from http.cookies import CookieError, SimpleCookie

__all__ = ["COOKIE", "TOKEN_RE", "new_token", "valid_token", "request_token",
           "header_token", "check_token", "check_action", "redact"]

COOKIE = "xpm_nb_token"
# The characters a token may hold: URL-safe base64 (what new_token gives) and ``.~``.
# Nothing that needs quoting in a URL, a header or a cookie (no CR/LF, ``;``, spaces).
TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{1,256}")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def valid_token(token) -> bool:
    """True if ``token`` is a string of the allowed characters (:data:`TOKEN_RE`)."""
    return isinstance(token, str) and TOKEN_RE.fullmatch(token) is not None


def header_token(headers) -> str | None:
    """The token of the ``Authorization: Bearer`` or ``X-XPM-Token`` header, None if none."""
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if headers.get("X-XPM-Token"):
        return headers["X-XPM-Token"].strip()
    return None


def request_token(headers, query: str) -> str | None:
    """The token a request carries (header, query or cookie), None if none."""
    token = header_token(headers)
    if token:
        return token
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
    return 200 if hmac.compare_digest(expected.encode(), given.encode(errors="replace")) else 403


def check_action(expected: str, headers) -> str | None:
    """Why a state-changing request is refused (None: accepted).

    Cross-site request forgery: a page of another port of 127.0.0.1 is the
    same *site*, so the browser sends it the cookie, and a form or a
    ``fetch(..., {credentials: "include"})`` reaches us. It can neither set
    ``X-XPM-Token`` (not without the token, and a custom header makes the
    browser ask first, which we never allow) nor send a JSON content type
    from a form, and its ``Origin`` is not ours.
    """
    origin = headers.get("Origin")
    if origin is not None:
        host = headers.get("Host", "")
        if not host or origin.lower() not in (f"http://{host}".lower(),):
            return f"cross-origin request refused (Origin {origin!r})"
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return "an action must be sent as Content-Type: application/json"
    token = header_token(headers)
    if not token:
        return "an action must carry the token in a header (X-XPM-Token or Authorization)"
    if check_token(expected, token) != 200:
        return "wrong token"
    return None


_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every ``token=...`` value replaced by ``***`` (for logs)."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)
