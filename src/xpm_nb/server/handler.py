"""HTTP requests of the monitoring server: token check, the page, the JSON API, the proxy."""

from __future__ import annotations

import http.client
import json
import logging
import mimetypes
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from .auth import COOKIE, check_action, check_token, redact, request_token, valid_token

__all__ = ["Handler"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1 << 20  # bytes: the page only sends small JSON messages
# Headers that concern one connection, never forwarded by the proxy.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# Request headers that are the monitor's business (its token, its cookie, where the
# browser comes from): never forwarded to a service.
PRIVATE = {"cookie", "authorization", "x-xpm-token", "origin", "referer"}
# Response headers of a service that are dropped: a service must not set cookies on
# 127.0.0.1 (they would reach the monitor) nor loosen the sandbox we put on its pages.
UPSTREAM_DROPPED = {"set-cookie", "set-cookie2", "content-security-policy",
                    "content-security-policy-report-only", "access-control-allow-origin",
                    "access-control-allow-credentials", "x-frame-options", "referrer-policy",
                    "x-content-type-options"}
# A service's page (a job may write any HTML) runs in no origin: no script, no form,
# nothing that reaches the monitor's API with the monitor's cookie.
SERVICE_CSP = "sandbox"
# The monitor's page: its own scripts and API only.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")
REQUEST_TIMEOUT = 20.0  # seconds a connection may stay silent (idle keep-alive included)
TOKEN_META = "<!--xpm-token-->"


class Handler(BaseHTTPRequestHandler):
    server_version = "xpm_nb"
    protocol_version = "HTTP/1.1"
    # Socket timeout of every read and write (socketserver.StreamRequestHandler): a
    # connection that sends nothing is closed, so idle ones cannot pile up.
    timeout = REQUEST_TIMEOUT

    @property
    def monitor(self):
        return self.server.monitor

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        # The request line may carry ?token=...: never in a log.
        logger.debug("%s - %s", self.address_string(), redact(format % args))

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    # --- dispatch -------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        status = check_token(self.monitor.token, request_token(self.headers, url.query))
        if status != 200:
            self._refuse(status)
            return
        path = url.path
        if method == "POST":
            why = check_action(self.monitor.token, self.headers)
            if why is not None:
                self.close_connection = True  # its body is not read
                self._json({"error": why}, 403)
                return
        try:
            if path.startswith("/services/"):
                self._proxy(method, path, url.query)
            elif method == "POST":
                self._post(path, url.query)
            else:
                self._get(path, url.query)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - answer 500 and keep serving
            logger.exception("monitoring server: %s %s failed", method, path)
            self._json({"error": f"{type(exc).__name__}: {exc}"}, 500)

    def _refuse(self, status: int) -> None:
        text = ("a token is required: open the URL printed when the experiment started "
                "(…/?token=…)" if status == 401 else "wrong token")
        body = json.dumps({"error": text}).encode()
        self.close_connection = True  # nothing more from whoever has no token
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="xpm_nb"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- GET ------------------------------------------------------------------

    def _get(self, path: str, query: str) -> None:
        model = self.monitor.model
        if path in ("/", "/index.html"):
            cookie = None
            token = urllib.parse.parse_qs(query).get("token")
            # Later requests of the page (assets, polls) carry the cookie. Only the
            # server's own token is ever written in a header (no CR/LF from a query).
            if (token and valid_token(token[0])
                    and check_token(self.monitor.token, token[0]) == 200):
                cookie = f"{COOKIE}={self.monitor.token}; Path=/; HttpOnly; SameSite=Strict"
            # The page's actions send the token in a header: it is given to the page's
            # script here (a page of another origin cannot read this answer).
            meta = f'<meta name="xpm-token" content="{self.monitor.token}">'
            self._file(STATIC / "index.html", cookie=cookie, csp=PAGE_CSP,
                       replace=(TOKEN_META.encode(), meta.encode()))
        elif path == "/api/jobs":
            self._json(model.jobs_payload())
        elif path == "/api/poll":
            self._json(model.poll(_client_id(query)))
        elif path == "/api/services":
            self._json({"services": self._services()})
        elif path == "/favicon.ico":
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/static/"):
            self._file(_inside(STATIC, path[len("/static/"):]))
        elif path.startswith("/assets/"):
            from ..widgets.assets import asset_dir

            self._file(_inside(asset_dir(), path[len("/assets/"):]))
        else:
            self._json({"error": f"no such page: {path}"}, 404)

    def _services(self) -> list[dict]:
        out = []
        for sid, service in list(self.monitor.xp.services.items()):
            url = getattr(service, "url", None)
            web = isinstance(url, str) and url.lower().startswith(("http://", "https://"))
            out.append({"id": sid, "description": service.description(),
                        "state": service.state.name,
                        # only ever our proxy's path: never the service's own URL
                        "url": f"/services/{urllib.parse.quote(sid, safe='')}/" if web else None})
        return out

    # --- POST -----------------------------------------------------------------

    def _body(self) -> bytes | None:
        """The request's body; None after answering 400/411/413 (then the connection closes)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json({"error": "chunked bodies are not accepted: send a Content-Length"}, 411)
            return None
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit() or len(raw) > 12:  # no sign, no spaces, no huge number
            self.close_connection = True
            self._json({"error": f"bad Content-Length {raw[:20]!r}"}, 400)
            return None
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            self._json({"error": f"request too large (more than {MAX_BODY} bytes)"}, 413)
            return None
        return self.rfile.read(length) if length else b""

    def _post(self, path: str, query: str) -> None:
        model = self.monitor.model
        raw = self._body()
        if raw is None:
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json({"error": "the body is not JSON"}, 400)
            return
        if not isinstance(body, dict):
            self._json({"error": "expected a JSON object"}, 400)
            return
        if path == "/api/msg":
            self._json(model.message(_client_id(query), body))
        elif path == "/api/quit":
            self.monitor.quit_requested.set()
            self._json({"ok": True})
        else:
            self._json({"error": f"no such action: {path}"}, 404)

    # --- proxy ----------------------------------------------------------------

    def _proxy(self, method: str, path: str, query: str) -> None:
        sid, _, rest = path[len("/services/"):].partition("/")
        sid = urllib.parse.unquote(sid)
        service = self.monitor.xp.services.get(sid)
        if service is None:
            self._json({"error": f"no service {sid!r}"}, 404)
            return
        try:
            target = urllib.parse.urlsplit(service.get_url())
        except Exception as exc:  # noqa: BLE001 - the service did not start
            self._json({"error": f"service {sid!r} is not available: {exc}"}, 502)
            return
        if target.scheme != "http" or not target.hostname:
            self._json({"error": f"service {sid!r} has no http URL to proxy"}, 502)
            return
        body = None
        if method == "POST":
            body = self._body()
            if body is None:
                return
        # The token is ours: the service never sees it (nor our cookie, nor the
        # Origin/Referer of our page); a service's own token goes in its header.
        query = urllib.parse.urlencode(
            [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
             if k != "token"])
        upstream = target.path.rstrip("/") + "/" + rest + (f"?{query}" if query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in PRIVATE}
        service_token = getattr(service, "access_token", None)
        if service_token:
            headers["X-XPM-Token"] = service_token
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            conn.request(method, upstream, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            self._json({"error": f"service {sid!r} did not answer: {exc}"}, 502)
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() not in UPSTREAM_DROPPED:
                self.send_header(key, value)
        # Whatever a job wrote (HTML, SVG...) shows on the monitor's origin: sandboxed,
        # it runs no script and has no origin of its own.
        self.send_header("Content-Security-Policy", SERVICE_CSP)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    # --- answers ----------------------------------------------------------------

    def _json(self, data, status: int = 200) -> None:
        body = json.dumps(data, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _file(self, path: Path | None, cookie: str | None = None, csp: str | None = None,
              replace: tuple[bytes, bytes] | None = None) -> None:
        if path is None or not path.is_file():
            self._json({"error": "not found"}, 404)
            return
        body = path.read_bytes()
        if replace is not None:
            body = body.replace(*replace)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix in (".js", ".mjs"):
            ctype = "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8" if ctype.startswith("text")
                         else ctype)
        self.send_header("Cache-Control", "no-store")
        if cookie:
            self.send_header("Set-Cookie", cookie)
        if csp:
            self.send_header("Content-Security-Policy", csp)
            self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _client_id(query: str) -> str:
    """The page's client id (``?client=...``): one job-table state per open page."""
    values = urllib.parse.parse_qs(query).get("client")
    return values[0][:64] if values else "default"


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder/relative`` if it stays inside ``folder`` (no ``..`` escape), else None."""
    relative = urllib.parse.unquote(relative)
    target = (folder / relative).resolve()
    try:
        target.relative_to(folder.resolve())
    except ValueError:
        return None
    return target
