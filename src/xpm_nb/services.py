"""Experiment services: ``Service``, ``WebService``, ``ServiceState``, ``ServiceListener``.

A service lives beside an experiment (``xp.add_service(service)``), e.g. a
TensorBoard viewer of the jobs' logs. Its lifecycle::

    STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED
                       |-> ERROR (if start fails)

Every change of state is sent to the service's listeners. A web service runs
its server in a thread (``_serve``) and gives its URL; the experiment's
monitoring server proxies it under ``/services/<id>/``, and in a notebook it
shows as a link that goes through the Jupyter server's proxy when running
behind JupyterHub or Binder.

:class:`TensorboardService` is the worked example: TensorBoard on a folder of
job logs when TensorBoard is installed, a static file server on that folder
otherwise. The static server wants a token of its own (``access_token``: in
an ``X-XPM-Token`` header, ``?token=`` or the cookie ``?token=`` sets), which
the monitoring server's proxy adds; its pages are sandboxed
(``Content-Security-Policy: sandbox``): a job's HTML runs no script.

A service's URL is linked only when it is http(s).
"""

from __future__ import annotations

import enum
import hmac
import html
import importlib
import importlib.util
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from .errors import InvalidArgumentError, ServiceError
from .layout import RunPaths

__all__ = [
    "Service",
    "WebService",
    "ProcessWebService",
    "ServiceState",
    "ServiceListener",
    "TensorboardService",
    "proxied_url",
]

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class ServiceState(enum.Enum):
    """State of a service lifecycle (``STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED``)."""

    STOPPED = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3
    ERROR = 4


class ServiceListener:
    """A service listener: told of every change of a service's state."""

    def service_state_changed(self, service: Service) -> None:
        """Called after ``service.state`` changed (from the thread that changed it)."""


class Service:
    """An experiment service; sends notifications to service listeners.

    Subclasses set a unique ``id`` class attribute. To be recreated later
    (e.g. by a monitor), override :meth:`state_dict` to return the
    constructor's keyword arguments.
    """

    id: str = "service"
    __unserializable__ = False

    def __init__(self, log_directory: Path | None = None):
        self.log_directory = Path(log_directory) if log_directory is not None else None
        self._state = ServiceState.STOPPED
        self._error: str | None = None
        self._listeners: list[ServiceListener] = []
        self._lock = threading.RLock()
        self.xp = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, state={self.state.name})"

    # --- listeners and state ------------------------------------------------

    def add_listener(self, listener: ServiceListener) -> None:
        """Adds a listener."""
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: ServiceListener) -> None:
        """Removes a listener."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    @property
    def state(self) -> ServiceState:
        """Current service state."""
        return self._state

    @state.setter
    def state(self, state: ServiceState) -> None:
        with self._lock:
            if state is self._state:
                return
            self._state = state
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.service_state_changed(self)
            except Exception:  # a listener's bug must not stop the service
                logger.exception("service listener %r failed", listener)

    @property
    def error(self) -> str | None:
        """The error message if the service failed to start."""
        return self._error

    def set_error(self, error: str | None) -> None:
        """Set the error message and the ERROR state."""
        self._error = error
        self.state = ServiceState.ERROR

    def set_starting(self) -> None:
        """STARTING, with any previous error cleared."""
        self._error = None
        self.state = ServiceState.STARTING

    def description(self) -> str:
        """Human-readable description of the service."""
        return ""

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the service (the base class has nothing running)."""
        self.state = ServiceState.STOPPED

    # --- experiment ---------------------------------------------------------

    def set_experiment(self, xp) -> None:
        """Called when the service is added to an experiment: logs go to its run folder."""
        self.xp = xp
        if self.log_directory is None:
            run_path = getattr(xp, "run_path", None)
            if run_path is not None and Path(run_path).is_dir():
                self.log_directory = RunPaths(run_path).service_logs(self.id)
        if self.log_directory is not None:
            self.log_directory.mkdir(parents=True, exist_ok=True)

    @property
    def experiment_id(self) -> str:
        """The experiment this service belongs to."""
        return getattr(self.xp, "name", "") if self.xp is not None else ""

    @property
    def run_id(self) -> str:
        """The run id (YYYYMMDD_HHMMSS) of the experiment."""
        return getattr(self.xp, "run_id", "") if self.xp is not None else ""

    @property
    def stdout(self) -> Path | None:
        """Path of the stdout log file."""
        return self.log_directory / f"{self.id}.out" if self.log_directory else None

    @property
    def stderr(self) -> Path | None:
        """Path of the stderr log file."""
        return self.log_directory / f"{self.id}.err" if self.log_directory else None

    def setup_logging(self):
        """File handlers for the service's logger; call at the start of ``_serve``."""
        if self.log_directory is None:
            return None, None
        self.log_directory.mkdir(parents=True, exist_ok=True)
        log = logging.getLogger(f"xpm_nb.services.{self.id}")
        out = logging.FileHandler(self.stdout)
        out.setLevel(logging.INFO)
        err = logging.FileHandler(self.stderr)
        err.setLevel(logging.WARNING)
        log.addHandler(out)
        log.addHandler(err)
        return out, err

    def cleanup_logging(self, stdout_handler, stderr_handler) -> None:
        """Remove the handlers of :meth:`setup_logging`; call at the end of ``_serve``."""
        log = logging.getLogger(f"xpm_nb.services.{self.id}")
        for handler in (stdout_handler, stderr_handler):
            if handler is not None:
                log.removeHandler(handler)
                handler.close()

    # --- recreating a service -------------------------------------------------

    def state_dict(self) -> dict:
        """The constructor's keyword arguments (Path values are handled).

        The base gives ``log_directory``, as the reference's (subclasses extend
        ``super().state_dict()`` or replace it)."""
        return {"log_directory": self.log_directory}

    def full_state_dict(self) -> dict:
        """The service, JSON-ready, with the reference's keys.

        ``service_id``, ``description``, ``class`` (for :meth:`from_state_dict`),
        ``state_dict`` (:meth:`state_dict`, paths serialized), ``experiment_id``,
        ``run_id``, ``state`` (the state's name) and ``url`` (None if none).
        Recreate with ``Service.from_state_dict(d["class"], d["state_dict"])``.
        """
        state = self.state
        return {
            "service_id": self.id,
            "description": self.description(),
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "state_dict": Service.serialize_state_dict(self.state_dict()),
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "state": state.name if hasattr(state, "name") else str(state),
            "url": getattr(self, "url", None),
        }

    @staticmethod
    def serialize_state_dict(data: dict) -> dict:
        """Path values as ``{"__path__": "/a/path"}``."""
        return {k: {"__path__": str(v)} if isinstance(v, Path) else v for k, v in data.items()}

    @staticmethod
    def from_state_dict(service_class: str, data: dict,
                        path_translator: Callable[[str], Path] | None = None) -> Service:
        """Recreate a service from :meth:`full_state_dict` data."""
        module_name, _, name = service_class.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError, ValueError) as exc:
            msg = f"cannot load service class {service_class!r}: {exc}"
            raise InvalidArgumentError(msg) from exc
        if getattr(cls, "__unserializable__", False):
            msg = f"service class {service_class!r} cannot be recreated (__unserializable__)"
            raise InvalidArgumentError(msg)
        kwargs = {}
        for key, value in data.items():
            if key == "__class__":
                continue
            if isinstance(value, dict) and set(value) == {"__path__"}:
                value = path_translator(value["__path__"]) if path_translator else Path(
                    value["__path__"])
            kwargs[key] = value
        return cls(**kwargs)

    def _repr_html_(self) -> str:
        desc = html.escape(self.description() or self.id)
        return f"<span>{desc} <small>({self.state.name.lower()})</small></span>"


class _RunningEvent(threading.Event):
    """The event ``_serve`` sets when ready: the service becomes RUNNING."""

    def __init__(self, service: WebService):
        super().__init__()
        self.service = service

    def set(self) -> None:
        # RUNNING first: whoever waits on this event then sees the service running.
        if self.service.state is ServiceState.STARTING:
            self.service.state = ServiceState.RUNNING
        super().set()


class WebService(Service):
    """A service with an HTTP endpoint.

    Subclasses set ``id`` and implement ``_serve(running)``: start the web
    server, set ``self.url``, call ``running.set()``, then serve until
    ``self.should_stop()``.
    """

    start_timeout = 60.0

    def __init__(self, log_directory: Path | None = None):
        super().__init__(log_directory)
        self.url: str | None = None
        # A service that wants a token sets it: the monitoring server's proxy sends it
        # as ``X-XPM-Token`` (never the monitor's own token or cookie).
        self.access_token: str | None = None
        self._thread: threading.Thread | None = None
        self._running: _RunningEvent | None = None
        self._stop_event = threading.Event()

    def _serve(self, running: threading.Event) -> None:
        """Start the web server, set ``self.url``, ``running.set()``, serve until stopped."""
        raise NotImplementedError

    def serve(self) -> None:
        """Start the web service in a background (daemon) thread."""
        with self._lock:
            if self.state in (ServiceState.STARTING, ServiceState.RUNNING):
                return
            self._stop_event = threading.Event()
            self._running = _RunningEvent(self)
            self.url = None
            self.set_starting()
            self._thread = threading.Thread(target=self._thread_main, daemon=True,
                                            name=f"xpm_nb service {self.id}")
            self._thread.start()

    def _thread_main(self) -> None:
        running = self._running
        try:
            self._serve(running)
        except Exception as exc:  # noqa: BLE001 - recorded as the service's error
            logger.exception("service %s failed", self.id)
            self.set_error(f"{type(exc).__name__}: {exc}")
            threading.Event.set(running)  # wake get_url() without RUNNING
            return
        if self.state is not ServiceState.ERROR:
            self.state = ServiceState.STOPPED

    def get_url(self) -> str:
        """The service's URL, starting the service and waiting for it if needed."""
        if self.state is ServiceState.STOPPING:
            msg = f"service {self.id!r} is stopping: cannot give its URL"
            raise ServiceError(msg)
        if self.state in (ServiceState.STOPPED, ServiceState.ERROR):
            self.serve()
        running = self._running
        if not running.wait(self.start_timeout):
            msg = f"service {self.id!r} did not start within {self.start_timeout} s (log: {self.stderr})"
            raise ServiceError(msg)
        if self.state is ServiceState.ERROR or self.url is None:
            msg = f"service {self.id!r} failed to start: {self.error} (log: {self.stderr})"
            raise ServiceError(msg)
        return self.url

    def should_stop(self) -> bool:
        """True once :meth:`stop` has been called."""
        return self._stop_event.is_set()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask ``_serve`` to return and wait up to ``timeout`` seconds for it."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            if self.state is not ServiceState.ERROR:
                self.state = ServiceState.STOPPED
            return
        self.state = ServiceState.STOPPING
        self._stop_event.set()
        thread.join(timeout)
        if thread.is_alive():
            # Python threads cannot be killed: the daemon thread dies with the process.
            logger.warning("service %s did not stop within %s s", self.id, timeout)
        self._thread = None
        self.state = ServiceState.STOPPED

    def browser_url(self) -> str | None:
        """The URL a browser opens (with the service's token, if any); None if not http(s)."""
        if not is_web_url(self.url):
            return None
        if not self.access_token:
            return self.url
        parts = urllib.parse.urlsplit(self.url)
        query = "&".join(q for q in (parts.query, f"token={self.access_token}") if q)
        return urllib.parse.urlunsplit(parts._replace(query=query))

    def _repr_html_(self) -> str:
        desc = html.escape(self.description() or self.id)
        if self.url is None or self.state is not ServiceState.RUNNING:
            state = self.state.name.lower()
            extra = f": {html.escape(self.error)}" if self.error else ""
            return f"<span>{desc} <small>({state}{extra})</small></span>"
        url = self.browser_url()
        if url is None:  # javascript:, data:, file:... never a link
            return f"<span>{desc} <small>{html.escape(str(self.url))}</small></span>"
        direct = html.escape(url)
        proxied = proxied_url(url)
        if proxied == self.url:
            return f'<a href="{direct}" target="_blank">{desc}</a> <small>{direct}</small>'
        return (f'<a href="{html.escape(proxied)}" target="_blank">{desc}</a> '
                f'<small>(through the Jupyter proxy; direct: <a href="{direct}" '
                f'target="_blank">{direct}</a>)</small>')


def is_web_url(url) -> bool:
    """True if ``url`` is an ``http://`` or ``https://`` URL (the only ones ever linked)."""
    if not isinstance(url, str):
        return False
    parts = urllib.parse.urlsplit(url.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def proxied_url(url: str, environ=None) -> str:
    """``url`` as reachable from the browser of a JupyterHub/Binder user.

    Behind JupyterHub (``JUPYTERHUB_SERVICE_PREFIX`` set) a local port is only
    reachable through jupyter-server-proxy: ``<prefix>proxy/<port>/<path>``.
    Elsewhere the URL is returned as it is.
    """
    environ = os.environ if environ is None else environ
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in (LOOPBACK, "localhost") or parts.port is None:
        return url
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    path = parts.path.lstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{prefix}proxy/{parts.port}/{path}{query}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class ProcessWebService(WebService):
    """A web service that is a separate process (e.g. ``tensorboard``), as the reference's.

    Subclasses implement ``_build_command()`` (the command line) and
    ``_wait_for_ready()`` (blocks until the process serves, returns its URL;
    it may read ``self.stdout``/``self.stderr``, where the process writes, and
    ``self.process``). The process runs in its own session, so ``stop()``
    ends it with everything it started.
    """

    def __init__(self, log_directory: Path | None = None):
        super().__init__(log_directory)
        self.process: subprocess.Popen | None = None

    def _build_command(self) -> list[str]:
        raise NotImplementedError

    def _wait_for_ready(self) -> str:
        raise NotImplementedError

    def _serve(self, running: threading.Event) -> None:
        self._start_process()
        try:
            self.url = self._wait_for_ready()
            running.set()
            while not self.should_stop() and self.process.poll() is None:
                self._stop_event.wait(0.5)
            if not self.should_stop():
                msg = f"process exited with code {self.process.returncode} (log: {self.stderr})"
                raise ServiceError(msg)
        finally:
            self._end_process()

    def stop(self, timeout: float = 2.0) -> None:
        """End the process (and what it started) before the serving thread: a
        service said stopped has no process left."""
        self._stop_event.set()
        self._end_process(timeout)
        super().stop(timeout)

    def _start_process(self) -> None:
        if self.log_directory is None:
            self.log_directory = Path(tempfile.mkdtemp(prefix=f"xpm_nb-{self.id}-"))
        self.log_directory.mkdir(parents=True, exist_ok=True)
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.process = subprocess.Popen(  # noqa: S603 - the subclass's own command
                self._build_command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def _end_process(self, timeout: float = 2.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue


class TensorboardService(WebService):
    """TensorBoard on a folder of logs (a static file server when TensorBoard is not installed).

    ``add(config, path)`` links a job's log folder into the service's folder
    under a name made of the job's tags.
    """

    id = "tensorboard"

    def __init__(self, path: Path, log_directory: Path | None = None):
        super().__init__(log_directory)
        self.path = Path(path).absolute()
        self.path.mkdir(parents=True, exist_ok=True)
        self.backend: str | None = None  # "tensorboard" or "static", once started

    def description(self) -> str:
        return f"TensorBoard on {self.path}"

    def state_dict(self) -> dict:
        return {"path": self.path}

    def add(self, config, path: Path) -> Path:
        """Link ``path`` (a job's log folder) as ``<service folder>/<tags of config>``.

        The link is always a direct entry of the service's folder (a name with no
        ``/``, not ``.`` or ``..``), and only a symbolic link is ever replaced:
        anything else is refused with ``ValueError``.
        """
        from .core.tags import tagspath

        try:
            name = tagspath(config) or config.__identifier__().hex()[:16]
        except Exception:  # noqa: BLE001 - any config: fall back on its identifier
            name = config.__identifier__().hex()[:16]
        if (not name or name in (".", "..") or "/" in name or os.sep in name
                or (os.altsep and os.altsep in name) or "\0" in name):
            msg = f"TensorboardService.add: {name!r} is not a name inside {self.path}"
            raise InvalidArgumentError(msg)
        link = self.path / name
        if link.parent != self.path:
            msg = f"TensorboardService.add: {link} is outside {self.path}"
            raise InvalidArgumentError(msg)
        if link.is_symlink():
            if Path(os.readlink(link)) == Path(path):
                return link
            link.unlink()
        elif link.exists():
            msg = (f"TensorboardService.add: {link} exists and is not a link: "
                   "left as it is (remove it to link the job there)")
            raise InvalidArgumentError(msg)
        link.symlink_to(Path(path), target_is_directory=True)
        return link

    def _serve(self, running: threading.Event) -> None:
        out, err = self.setup_logging()
        try:
            if importlib.util.find_spec("tensorboard") is not None:
                self._serve_tensorboard(running)
            else:
                self._serve_static(running)
        finally:
            self.cleanup_logging(out, err)

    def _serve_static(self, running: threading.Event) -> None:
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        token = self.access_token = secrets.token_urlsafe(24)
        cookie_name = f"xpm_nb_service_{secrets.token_hex(4)}"

        class Guarded(SimpleHTTPRequestHandler):
            """The folder's files, to whoever has the token; job HTML sandboxed."""

            timeout = 20.0  # a silent connection is closed

            def log_message(self, format, *args):  # noqa: A002
                from .server.auth import redact

                logging.getLogger("xpm_nb.services.tensorboard").info(
                    "%s", redact(format % args))

            def _given(self) -> tuple[str | None, bool]:
                """(token given, given in the query) of this request."""
                given = self.headers.get("X-XPM-Token")
                if given:
                    return given.strip(), False
                query = urllib.parse.urlsplit(self.path).query
                values = urllib.parse.parse_qs(query).get("token")
                if values:
                    return values[0], True
                from http.cookies import CookieError, SimpleCookie

                try:
                    jar = SimpleCookie(self.headers.get("Cookie") or "")
                except CookieError:
                    return None, False
                return (jar[cookie_name].value if cookie_name in jar else None), False

            def send_head(self):
                given, in_query = self._given()
                if not given or not hmac.compare_digest(
                        given.encode(errors="replace"), token.encode()):
                    self.send_error(401 if not given else 403, "a token is required")
                    return None
                self._set_cookie = in_query
                return super().send_head()

            def end_headers(self):
                if getattr(self, "_set_cookie", False):
                    self._set_cookie = False
                    self.send_header("Set-Cookie", f"{cookie_name}={token}; Path=/; HttpOnly; "
                                                   "SameSite=Strict")
                self.send_header("Content-Security-Policy", "sandbox")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                super().end_headers()

        handler = functools.partial(Guarded, directory=str(self.path))
        server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        server.daemon_threads = True
        self.backend = "static"
        self.url = f"http://{LOOPBACK}:{server.server_address[1]}/"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  daemon=True)
        thread.start()
        running.set()
        try:
            self._stop_event.wait()
        finally:
            server.shutdown()
            server.server_close()

    def _serve_tensorboard(self, running: threading.Event) -> None:
        port = _free_port()
        cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(self.path),
               "--host", LOOPBACK, "--port", str(port)]
        log = open(self.stderr, "ab") if self.stderr else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + self.start_timeout
            while True:
                if proc.poll() is not None:
                    msg = f"tensorboard exited with code {proc.returncode} (log: {self.stderr})"
                    raise ServiceError(msg)
                try:
                    socket.create_connection((LOOPBACK, port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.should_stop():
                        raise ServiceError("tensorboard did not start in time") from None
                    time.sleep(0.2)
            self.backend = "tensorboard"
            self.url = f"http://{LOOPBACK}:{port}/"
            running.set()
            self._stop_event.wait()
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
            if log is not subprocess.DEVNULL:
                log.close()
