"""A real JupyterLab server and a headless Chromium page driving it.

- :class:`JupyterLabServer` starts ``python -m jupyter lab`` on 127.0.0.1 with a
  random token, every Jupyter folder (config, data, runtime, settings,
  workspaces) in a folder of its own, and the system data folder still on the
  path so the installed prebuilt lab extensions (``@jupyter-widgets/
  jupyterlab-manager``, ``anywidget``) load.
- :class:`LabPage` opens a notebook in that server with the Python
  ``playwright`` package driving Debian's ``/usr/bin/chromium`` (playwright's
  own browser download does not work on these machines), runs all cells and
  lets a test query the rendered DOM.
- :func:`run_notebook_in_browser` does open + run all + screenshot in one call.

Nothing listens on anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"

#: Debian's Chromium (another binary can be given with XPM_NB_CHROMIUM).
CHROMIUM = os.environ.get("XPM_NB_CHROMIUM", "/usr/bin/chromium")
#: Flags that work for headless Chromium on these machines (see recipes.md).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

#: Lab extensions the widget tests cannot do without.
WIDGET_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "anywidget")

#: User settings written into JUPYTERLAB_SETTINGS_DIR: ``{plugin id: settings}``.
DEFAULT_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # Without this a "receive official Jupyter news?" toast covers the page.
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Keep every cell (and its outputs) in the DOM, whatever the scroll position.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    # The test's notebook files stay as the test wrote them.
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    # No PyPI queries from the extension manager.
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def playwright_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def jupyterlab_available() -> bool:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return False
    return True


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<{path}: {e.strerror}>"
    return "\n".join(text.splitlines()[-lines:])


class JupyterLabError(RuntimeError):
    pass


class JupyterLabServer:
    """``python -m jupyter lab`` on 127.0.0.1 with everything in a folder of its own.

    ``base_dir``: where the Jupyter folders and the log go (a fresh temporary
    folder, removed on :meth:`stop`, when not given). ``root_dir``: the folder
    the server serves (``<base_dir>/notebooks`` by default). ``env``: extra
    environment for the server and so for its kernels.
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        root_dir: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
        kernel_name: str = "python3",
        required_extensions: Sequence[str] = WIDGET_EXTENSIONS,
        startup_timeout: float = 60.0,
    ) -> None:
        self._own_base = base_dir is None
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._root_arg = Path(root_dir) if root_dir is not None else None
        self.extra_env = dict(env or {})
        self.lab_settings = {**DEFAULT_LAB_SETTINGS, **(lab_settings or {})}
        self.kernel_name = kernel_name
        self.required_extensions = tuple(required_extensions)
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.root_dir: Path | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None

    # -- layout --------------------------------------------------------------

    def _prepare(self) -> dict[str, str]:
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="xpm-nb-jlab-"))
        base = self.base_dir
        base.mkdir(parents=True, exist_ok=True)
        self.root_dir = (self._root_arg or base / "notebooks").resolve()
        self.root_dir.mkdir(parents=True, exist_ok=True)
        dirs = {
            "JUPYTER_CONFIG_DIR": base / "config",
            "JUPYTER_DATA_DIR": base / "data",
            "JUPYTER_RUNTIME_DIR": base / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": base / "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": base / "lab-workspaces",
            "IPYTHONDIR": base / "ipython",
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # Kernel: the interpreter running the tests (where xpm_nb is installed),
        # whatever "python" means on PATH. Our data dir comes first on the
        # kernel search path, so this spec wins over the system one.
        kdir = dirs["JUPYTER_DATA_DIR"] / "kernels" / self.kernel_name
        kdir.mkdir(parents=True, exist_ok=True)
        (kdir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": f"Python 3 ({self.kernel_name}, tests)",
                    "language": "python",
                    "metadata": {"debugger": True},
                },
                indent=1,
            )
        )
        for plugin, values in self.lab_settings.items():
            pkg, _, name = plugin.partition(":")
            f = dirs["JUPYTERLAB_SETTINGS_DIR"] / pkg / f"{name}.jupyterlab-settings"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values, indent=1))
        env = dict(os.environ)
        # A JUPYTER_PATH/JUPYTER_PREFER_ENV_PATH from outside must not hide
        # sys.prefix/share/jupyter, where pip put the prebuilt lab extensions.
        env.pop("JUPYTER_PREFER_ENV_PATH", None)
        env.update({k: str(v) for k, v in dirs.items()})
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        self.log_path = base / "jupyterlab.log"
        return env

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> JupyterLabServer:
        if self.proc is not None:
            return self
        env = self._prepare()
        t0 = time.monotonic()
        last_error = ""
        for _attempt in range(3):  # a port picked here may be taken before lab binds it
            self.port = free_port()
            cmd = [
                sys.executable, "-m", "jupyter", "lab",
                "--no-browser",
                "--allow-root",
                f"--ip={LOOPBACK}",
                f"--port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",  # = --ServerApp.token, not deprecated
                "--LabApp.expose_app_in_browser=True",
                f"--notebook-dir={self.root_dir}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
                f"--MappingKernelManager.default_kernel_name={self.kernel_name}",
            ]  # fmt: skip
            assert self.log_path is not None
            log = open(self.log_path, "ab")
            log.write(f"\n=== {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kernels included
            )
            log.close()
            ok, last_error = self._wait_ready(t0 + self.startup_timeout)
            if ok:
                self.startup_seconds = time.monotonic() - t0
                break
            self._kill()
            if "address already in use" not in last_error.lower():
                break
        else:
            ok = False
        if not ok:
            raise JupyterLabError(
                f"JupyterLab did not start: {last_error}\n--- log ---\n{self.log_tail()}"
            )
        missing = [e for e in self.required_extensions if e not in self.lab_extensions()]
        if missing:
            log = self.log_tail()
            self.stop()
            raise JupyterLabError(
                f"lab extensions not loaded: {missing} (loaded: {self.lab_extensions()});"
                f" is ipywidgets/anywidget installed in {sys.prefix}?\n{log}"
            )
        return self

    def _wait_ready(self, deadline: float) -> tuple[bool, str]:
        assert self.proc is not None
        err = "timeout"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with code {self.proc.returncode}: {_tail(self.log_path, 5)}"
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        json.load(r)
                        return True, ""
            except (urllib.error.URLError, OSError, ValueError) as e:
                err = str(e)
            time.sleep(0.1)
        return False, f"no answer from /api/status in time ({err})"

    def _kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # lab shuts its kernels down on SIGTERM
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # Whatever is left in the group we started (kernels of a lab that died).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> None:
        self._kill()
        if self._own_base and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> JupyterLabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def url(self, path: str = "lab", **query: str) -> str:
        """Absolute URL of ``path`` on the server, with the token."""
        q = urllib.parse.urlencode({**query, "token": self.token})
        return f"{self.base_url}{path.lstrip('/')}?{q}"

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the REST API (``api/...``); returns the decoded JSON (or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def page_config(self) -> dict[str, Any]:
        """The ``jupyter-config-data`` the lab page is served with."""
        with urllib.request.urlopen(self.url("lab"), timeout=30) as r:
            html = r.read().decode()
        marker = 'id="jupyter-config-data"'
        i = html.index(marker)
        start = html.index(">", i) + 1
        end = html.index("</script>", start)
        return json.loads(html[start:end])

    def lab_extensions(self) -> list[str]:
        """Names of the prebuilt lab extensions the page loads (disabled ones left out)."""
        cfg = self.page_config()
        disabled = set(cfg.get("disabledExtensions", []))
        return [e["name"] for e in cfg.get("federated_extensions", []) if e["name"] not in disabled]

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines) if self.log_path else "<no log>"

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel)."""
        for s in self.api("api/sessions") or []:
            try:
                self.api(f"api/sessions/{s['id']}", method="DELETE")
            except urllib.error.HTTPError:
                pass

    def write_notebook(
        self, relpath: str, cells: Iterable[str | Any], metadata: Mapping[str, Any] | None = None
    ) -> Path:
        """Write a notebook under the served root; strings become code cells."""
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) if isinstance(c, str) else c for c in cells]
        nb.metadata["kernelspec"] = {
            "name": self.kernel_name,
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.metadata.update(metadata or {})
        assert self.root_dir is not None, "start the server first"
        path = self.root_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path


# ---------------------------------------------------------------------------
# Browser side

_INIT_SCRIPT = r"""
window.__xpm = {
  findPanel(path) {
    const app = window.jupyterapp;
    if (!app || !app.shell) return null;
    for (const w of app.shell.widgets('main')) {
      if (w && w.context && w.context.path === path && w.content && w.sessionContext) return w;
    }
    return null;
  },
  state(path) {
    const app = window.jupyterapp;
    const s = {app: !!app, found: false};
    const p = this.findPanel(path);
    if (!p) return s;
    s.found = true;
    s.contextReady = p.context.isReady;
    s.sessionReady = p.sessionContext.isReady;
    const k = p.sessionContext.session && p.sessionContext.session.kernel;
    s.kernel = k ? k.name : null;
    s.kernelStatus = k ? k.status : null;
    s.connectionStatus = k ? k.connectionStatus : null;
    s.codeCells = 0; s.running = 0; s.unexecuted = 0;
    const model = p.content.model;
    if (model) {
      for (const c of model.cells) {
        if (c.type !== 'code') continue;
        s.codeCells += 1;
        if (c.executionState === 'running') s.running += 1;
        if (c.executionCount === null || c.executionCount === undefined) s.unexecuted += 1;
      }
    }
    for (const el of p.node.querySelectorAll('.jp-InputPrompt')) {
      if (el.textContent.includes('*')) s.running += 1;
    }
    return s;
  },
  errors(path) {
    const p = this.findPanel(path);
    const out = [];
    if (!p || !p.content.model) return out;
    let i = 0;
    for (const c of p.content.model.cells) {
      if (c.type === 'code') {
        for (const o of c.outputs.toJSON()) {
          if (o.output_type === 'error') out.push({cell: i, ename: o.ename, evalue: o.evalue, traceback: o.traceback});
        }
      }
      i += 1;
    }
    return out;
  },
  runAll(path) {
    const app = window.jupyterapp;
    const p = this.findPanel(path);
    this.runResult = null;
    app.shell.activateById(p.id);
    app.commands.execute('notebook:run-all-cells').then(
      (r) => { window.__xpm.runResult = {done: true, ok: r !== false}; },
      (e) => { window.__xpm.runResult = {done: true, ok: false, error: String(e)}; });
  },
  runResult: null,
};
"""

_ANSI = None


def _strip_ansi(text: str) -> str:
    global _ANSI
    import re

    if _ANSI is None:
        _ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    return _ANSI.sub("", text)


class NotebookCellError(AssertionError):
    pass


def launch_chromium(playwright: Any, user_data_dir: Path | str, **kwargs: Any) -> Any:
    """A persistent Chromium context (Debian's binary, a fresh profile folder)."""
    kwargs.setdefault("viewport", {"width": 1280, "height": 900})
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=list(CHROMIUM_ARGS),
        **kwargs,
    )


class LabPage:
    """A headless Chromium page on a :class:`JupyterLabServer`.

    Each LabPage has its own browser profile folder and its own JupyterLab
    workspace, so nothing leaks from one test to the next. The playwright
    ``Page`` is available as :attr:`page` for anything not wrapped here.
    """

    def __init__(
        self,
        server: JupyterLabServer,
        *,
        user_data_dir: Path | str | None = None,
        timeout: float = 60.0,
        viewport: Mapping[str, int] | None = None,
    ) -> None:
        from playwright.sync_api import sync_playwright

        self.server = server
        self.timeout = timeout
        self._own_profile = user_data_dir is None
        self.user_data_dir = Path(user_data_dir or tempfile.mkdtemp(prefix="xpm-nb-chromium-"))
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        self.workspace = "xpm-" + secrets.token_hex(6)
        self.path: str | None = None
        self.console: list[str] = []
        self.page_errors: list[str] = []
        self._pw_cm = sync_playwright()
        self._pw = self._pw_cm.start()
        try:
            self.context = launch_chromium(
                self._pw,
                self.user_data_dir,
                viewport=dict(viewport or {"width": 1280, "height": 900}),
            )
            self.context.set_default_timeout(timeout * 1000)
            self.context.add_init_script(_INIT_SCRIPT)
            self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
            self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
            self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        except BaseException:
            self._pw_cm.__exit__(None, None, None)
            raise

    # -- notebook ------------------------------------------------------------

    def _rel(self, notebook: Path | str) -> str:
        p = Path(notebook)
        root = self.server.root_dir
        assert root is not None
        if p.is_absolute():
            p = p.resolve().relative_to(root)
        return p.as_posix()

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("(p) => window.__xpm.state(p)", self.path)

    def open(self, notebook: Path | str, timeout: float | None = None) -> LabPage:
        """Open a notebook (path absolute or relative to the server root) and wait for an idle kernel."""
        self.path = self._rel(notebook)
        quoted = urllib.parse.quote(self.path)
        url = self.server.url(f"lab/workspaces/{self.workspace}/tree/{quoted}", reset="")
        self.page.goto(url, wait_until="domcontentloaded")
        t = (timeout or self.timeout) * 1000
        self.page.wait_for_function("() => window.jupyterapp !== undefined", timeout=t)
        self.page.evaluate("() => window.jupyterapp.restored")
        self.wait_idle(timeout)
        return self

    def wait_idle(self, timeout: float | None = None, settle: float = 0.3) -> dict[str, Any]:
        """Wait until the kernel is connected and idle, no cell running, for ``settle`` seconds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        idle_since: float | None = None
        st: dict[str, Any] = {}
        while True:
            st = self.state()
            idle = (
                st.get("found")
                and st.get("contextReady")
                and st.get("sessionReady")
                and st.get("kernelStatus") == "idle"
                and st.get("connectionStatus") == "connected"
                and st.get("running") == 0
            )
            now = time.monotonic()
            if idle:
                idle_since = idle_since or now
                if now - idle_since >= settle:
                    return st
            else:
                idle_since = None
            if now > deadline:
                raise TimeoutError(
                    f"kernel not idle in time; last state {st}\n{self.diagnostics()}"
                )
            time.sleep(0.05)

    def run_all(self, timeout: float | None = None, raise_on_error: bool = True) -> LabPage:
        """Run all cells (command ``notebook:run-all-cells``) and wait for the kernel to settle."""
        self.page.evaluate("(p) => window.__xpm.runAll(p)", self.path)
        t = (timeout or self.timeout) * 1000
        self.page.wait_for_function(
            "() => window.__xpm.runResult && window.__xpm.runResult.done", timeout=t
        )
        self.wait_idle(timeout)
        if raise_on_error:
            errs = self.cell_errors()
            if errs:
                e = errs[0]
                tb = _strip_ansi("\n".join(e.get("traceback") or []))
                raise NotebookCellError(
                    f"cell {e['cell']} raised {e['ename']}: {e['evalue']}\n{tb}"
                )
        return self

    def cell_errors(self) -> list[dict[str, Any]]:
        return self.page.evaluate("(p) => window.__xpm.errors(p)", self.path)

    # -- DOM -----------------------------------------------------------------

    def wait_for(self, selector: str, timeout: float | None = None, state: str = "visible") -> Any:
        """Wait for ``selector`` (playwright syntax) and return its first element's locator."""
        loc = self.page.locator(selector).first
        loc.wait_for(state=state, timeout=(timeout or self.timeout) * 1000)
        return loc

    def query(self, selector: str) -> list[str]:
        """Inner texts of every element matching ``selector`` (no waiting)."""
        return self.page.locator(selector).all_inner_texts()

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def text(self, selector: str, timeout: float | None = None) -> str:
        return self.wait_for(selector, timeout).inner_text()

    def wait_for_text(self, selector: str, text: str, timeout: float | None = None) -> None:
        """Wait until an element matching ``selector`` has exactly ``text`` (stripped)."""
        from playwright.sync_api import expect

        expect(self.page.locator(selector).filter(has_text=text).first).to_have_text(
            text, timeout=(timeout or self.timeout) * 1000
        )

    def click(self, selector: str, timeout: float | None = None) -> None:
        self.page.locator(selector).first.click(timeout=(timeout or self.timeout) * 1000)

    def screenshot(self, path: Path | str, full_page: bool = False) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(p), full_page=full_page)
        return p

    def diagnostics(self) -> str:
        lines = ["--- browser console (last 30) ---", *self.console[-30:]]
        if self.page_errors:
            lines += ["--- page errors ---", *self.page_errors[-10:]]
        lines += ["--- jupyterlab log (last 30) ---", self.server.log_tail(30)]
        return "\n".join(lines)

    # -- end -----------------------------------------------------------------

    def close(self, shutdown_kernel: bool = True) -> None:
        try:
            self.context.close()
        finally:
            self._pw_cm.__exit__(None, None, None)
            if shutdown_kernel and self.path is not None and self.server.proc is not None:
                try:
                    for s in self.server.api("api/sessions") or []:
                        if s.get("path") == self.path:
                            self.server.api(f"api/sessions/{s['id']}", method="DELETE")
                except (urllib.error.URLError, OSError):
                    pass
            if self._own_profile:
                shutil.rmtree(self.user_data_dir, ignore_errors=True)

    def __enter__(self) -> LabPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_notebook_in_browser(
    server: JupyterLabServer,
    notebook_path: Path | str,
    screenshot_path: Path | str | None = None,
    wait_for_selector: str | None = None,
    timeout: float = 90.0,
    raise_on_error: bool = True,
) -> dict[str, Any]:
    """Open ``notebook_path``, run all cells, optionally wait for a selector and screenshot.

    Returns ``{"errors": [...], "console": [...], "seconds": ...}``. For DOM
    checks use :class:`LabPage` (or the ``lab_page`` fixture) directly.
    """
    t0 = time.monotonic()
    with LabPage(server, timeout=timeout) as lab:
        lab.open(notebook_path)
        lab.run_all(raise_on_error=raise_on_error)
        if wait_for_selector:
            lab.wait_for(wait_for_selector)
        if screenshot_path is not None:
            lab.screenshot(screenshot_path)
        return {
            "errors": lab.cell_errors(),
            "console": list(lab.console),
            "seconds": time.monotonic() - t0,
        }
