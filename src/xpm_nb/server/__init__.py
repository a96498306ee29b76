"""The monitoring server of an experiment: ``experiment(..., port=N)``.

A small stdlib HTTP server (``http.server`` in a daemon thread) bound to
127.0.0.1 unless told otherwise, every request checked against a token:

- ``/`` the page: the notebook widget's job table (``job_table.js``, served
  as it is) driven by a model that polls the JSON API about once a second;
- ``/api/jobs`` the jobs (one ``status.json``-like record each), ``/api/model``
  the job table's state, ``/api/msg`` actions (cancel, resubmit) run on the
  experiment's event loop, ``/api/services`` the services;
- ``/services/<id>/...`` the experiment's web services, proxied;
- ``/assets/<file>`` the front-end modules.

The URL (with its token) is written to ``<run folder>/server.json`` (readable
by the user only) and is ``xp.server.url``. When the server starts, its address
is printed on stdout: with the token only when stdout is a terminal (a
notebook's output is saved with the notebook), never in a log.

Every connection has a timeout (``handler.REQUEST_TIMEOUT``) and at most
``MAX_CONNECTIONS`` are served at once (the others get a 503 and are closed),
so idle or hostile clients cannot use up the process's file descriptors.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from ..errors import InvalidArgumentError
from ..layout import RunPaths
from .auth import new_token, valid_token
from .handler import Handler
from .model import PageModel

__all__ = ["MonitoringServer"]

logger = logging.getLogger(__name__)


MAX_CONNECTIONS = 64  # connections served at once; more are answered 503 and closed
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
         b"Connection: close\r\nRetry-After: 1\r\n\r\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, *args, max_connections: int = MAX_CONNECTIONS, **kwargs):
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        # A client that hangs up or times out is no error of ours: one quiet line.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            logger.debug("monitoring server: connection from %s ended: %s",
                         client_address[0], type(exc).__name__)
            return
        logger.warning("monitoring server: request from %s failed: %s: %s",
                       client_address[0], type(exc).__name__, exc)


class MonitoringServer:
    """Serves the monitoring page of experiment ``xp`` on ``host:port`` (0: any free port)."""

    def __init__(self, xp, host: str | None = None, port: int = 0, token: str | None = None):
        self.xp = xp
        self.host = host or "127.0.0.1"
        self.requested_port = int(port or 0)
        if token is not None and not valid_token(token):
            # The value is a secret: its type and length, not its text, go in the message.
            shown = (f"<{len(token)} characters>" if isinstance(token, str)
                     else f"<a {type(token).__name__}>")
            msg = (f"MonitoringServer(token={shown}): the token must be a string of "
                   "letters, digits and . _ ~ - (at most 256), as it goes in URLs, headers and a "
                   "cookie. Fix: pass such a token, or none for a fresh one")
            raise InvalidArgumentError(msg)
        self.token = token or new_token()
        self.model = PageModel(xp)
        self.quit_requested = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return self._httpd.server_address[1] if self._httpd else None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        """The page's URL, token included."""
        return f"{self.base_url}?token={self.token}"

    def start(self) -> MonitoringServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.requested_port), Handler)
        self._httpd.monitor = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True,
                                        name="xpm_nb monitoring server")
        self._thread.start()
        self._write_info()
        print(f"xpm_nb: monitoring {self.xp.name!r} at {self._shown_url()}", flush=True)
        return self

    def _shown_url(self) -> str:
        """The URL to print: with the token on a terminal only (saved outputs must not keep it)."""
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            return self.url
        where = getattr(self, "info_path", None)
        hint = f"{where}" if where is not None else "xp.server.url"
        return f"{self.base_url} (open it with ?token=: the token is in {hint})"

    def _write_info(self) -> None:
        run_path = getattr(self.xp, "run_path", None)
        if run_path is None or not Path(run_path).is_dir():
            return
        info = {"url": self.url, "base_url": self.base_url, "host": self.host,
                "port": self.port, "token": self.token, "pid": os.getpid()}
        path = RunPaths(run_path).server
        # A fresh name, created by us (O_EXCL) and never through a planted link.
        tmp = path.with_name(f".server.json.{os.getpid()}.{secrets.token_hex(8)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            os.replace(tmp, path)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        self.info_path = path

    def wait_for_quit(self, timeout: float | None = None) -> bool:
        """Block until someone asks to quit from the page (``POST /api/quit``)."""
        print(f"xpm_nb: jobs finished; the page stays at {self._shown_url()} until you quit "
              "from it (or Ctrl-C)", flush=True)
        try:
            return self.quit_requested.wait(timeout)
        except KeyboardInterrupt:
            return True

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        self.model.close()
        if self._thread is not None:
            self._thread.join(5)
        info = getattr(self, "info_path", None)
        if info is not None:
            try:
                info.unlink()
            except OSError:
                pass

    def __repr__(self) -> str:
        return f"MonitoringServer({self.base_url})"
