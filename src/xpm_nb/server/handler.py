"""HTTP requests of the monitoring server: token check, the page, the JSON API, the proxy."""

from __future__ import annotations

import http.client
import json
import logging
import mimetypes
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from .auth import COOKIE, check_token, request_token

__all__ = ["Handler"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1 << 20  # bytes: the page only sends small JSON messages
# Headers that concern one connection, never forwarded by the proxy.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}


class Handler(BaseHTTPRequestHandler):
    server_version = "xpm_nb"
    protocol_version = "HTTP/1.1"

    @property
    def monitor(self):
        return self.server.monitor

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        logger.debug("%s - " + format, self.address_string(), *args)

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
        try:
            if path.startswith("/services/"):
                self._proxy(method, path, url.query)
            elif method == "POST":
                self._post(path, url.query)
            else:
                self._get(path, url.query)
        except BrokenPipeError:
            pass
        except Exception as exc:  # noqa: BLE001 - answer 500 and keep serving
            logger.exception("monitoring server: %s %s failed", method, path)
            self._json({"error": f"{type(exc).__name__}: {exc}"}, 500)

    def _refuse(self, status: int) -> None:
        text = ("a token is required: open the URL printed when the experiment started "
                "(…/?token=…)" if status == 401 else "wrong token")
        body = json.dumps({"error": text}).encode()
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
            if token:  # later requests of the page (assets, API) carry the cookie
                cookie = (f"{COOKIE}={token[0]}; Path=/; HttpOnly; SameSite=Strict")
            self._file(STATIC / "index.html", cookie=cookie)
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
            out.append({"id": sid, "description": service.description(),
                        "state": service.state.name,
                        "url": f"/services/{urllib.parse.quote(sid)}/"
                        if getattr(service, "url", None) else None})
        return out

    # --- POST -----------------------------------------------------------------

    def _post(self, path: str, query: str) -> None:
        model = self.monitor.model
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json({"error": "request too large"}, 413)
            return
        raw = self.rfile.read(length) if length else b"{}"
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
        body = None
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # The token is ours: the service never sees it.
        query = urllib.parse.urlencode(
            [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
             if k != "token"])
        upstream = target.path.rstrip("/") + "/" + rest + (f"?{query}" if query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in ("cookie", "authorization")}
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
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
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

    def _file(self, path: Path | None, cookie: str | None = None) -> None:
        if path is None or not path.is_file():
            self._json({"error": "not found"}, 404)
            return
        body = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix in (".js", ".mjs"):
            ctype = "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8" if ctype.startswith("text")
                         else ctype)
        self.send_header("Cache-Control", "no-store")
        if cookie:
            self.send_header("Set-Cookie", cookie)
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
