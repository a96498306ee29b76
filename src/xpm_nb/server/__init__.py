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

The URL (with its token) is printed when the server starts and written to
``<run folder>/server.json`` (readable by the user only).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from .auth import new_token
from .handler import Handler
from .model import PageModel

__all__ = ["MonitoringServer"]

logger = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MonitoringServer:
    """Serves the monitoring page of experiment ``xp`` on ``host:port`` (0: any free port)."""

    def __init__(self, xp, host: str | None = None, port: int = 0, token: str | None = None):
        self.xp = xp
        self.host = host or "127.0.0.1"
        self.requested_port = int(port or 0)
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
        print(f"xpm_nb: monitoring {self.xp.name!r} at {self.url}", file=sys.stderr, flush=True)
        return self

    def _write_info(self) -> None:
        run_path = getattr(self.xp, "run_path", None)
        if run_path is None or not Path(run_path).is_dir():
            return
        info = {"url": self.url, "base_url": self.base_url, "host": self.host,
                "port": self.port, "token": self.token, "pid": os.getpid()}
        path = Path(run_path) / "server.json"
        tmp = path.with_name(f".server.json.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        os.replace(tmp, path)
        self.info_path = path

    def wait_for_quit(self, timeout: float | None = None) -> bool:
        """Block until someone asks to quit from the page (``POST /api/quit``)."""
        print(f"xpm_nb: jobs finished; the page stays at {self.url} until you quit "
              "from it (or Ctrl-C)", file=sys.stderr, flush=True)
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
