"""Pytest fixtures for widget tests in a real JupyterLab in headless Chromium.

Register with ``pytest_plugins = ["infra.browser_fixtures"]`` (in
``tests/conftest.py``, or in a test module).

- ``jupyterlab_server`` (session): a :class:`~infra.jupyterlab.JupyterLabServer`
  whose folders are under pytest's temporary folder; its kernels run the
  interpreter running pytest, with the repository's ``src`` on PYTHONPATH.
- ``lab_page`` (function): a :class:`~infra.jupyterlab.LabPage` (fresh
  Chromium profile, fresh lab workspace); its kernel is shut down afterwards.
  On a failing test a screenshot goes to ``artifacts/screenshots/`` and the
  browser console and lab log are attached to the report.
- ``screenshot_dir``: ``artifacts/screenshots`` in the repository (git-ignored).

Missing chromium/playwright/jupyterlab skips locally and fails in CI
(``need`` from tests/conftest.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.jupyterlab import (
    CHROMIUM,
    ROOT,
    JupyterLabServer,
    LabPage,
    chromium_available,
    jupyterlab_available,
    playwright_available,
)
from support.integration import need

SCREENSHOT_DIR = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of the JupyterLab UI tests' key moments (pytest's temporary folder,
    kept for the last runs)."""
    d = tmp_path_factory.mktemp("lab-screenshots", numbered=False)
    print(f"\nscreenshots: {d}")
    return d


@pytest.fixture
def ui(request: pytest.FixtureRequest, lab_server, tmp_path: Path, shots_dir: Path):
    """A fresh Chromium page (``support.labui.LabUI``) on the module's ``lab_server``."""
    from support.labserver import open_ui

    yield from open_ui(request, lab_server, tmp_path, shots_dir)


@pytest.fixture(scope="session")
def jupyterlab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    need(jupyterlab_available(), "jupyterlab is not installed (pip install jupyterlab)")
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ImportError as e:
        need(False, f"widget packages missing: {e}")
    base = tmp_path_factory.mktemp("jupyterlab")
    src = str(ROOT / "src")
    pp = os.environ.get("PYTHONPATH")
    env = {"PYTHONPATH": src + (os.pathsep + pp if pp else "")}
    server = JupyterLabServer(base, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"_xpm_rep_{rep.when}", rep)


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LabPage]:
    need(chromium_available(), f"{CHROMIUM} missing (apt-get install chromium chromium-driver)")
    need(playwright_available(), "the Python playwright package is not installed")
    # Only now: no JupyterLab is started for a test that cannot get a browser.
    jupyterlab_server: JupyterLabServer = request.getfixturevalue("jupyterlab_server")
    page = LabPage(jupyterlab_server, user_data_dir=tmp_path / "chromium-profile")
    try:
        yield page
    finally:
        rep = getattr(request.node, "_xpm_rep_call", None)
        if rep is not None and rep.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
            try:
                shot = page.screenshot(SCREENSHOT_DIR / f"FAILED-{name}.png")
                rep.sections.append(("browser screenshot", str(shot)))
            except Exception as e:  # the page may be gone
                rep.sections.append(("browser screenshot", f"failed: {e}"))
            # The failure summary is printed at the end of the session, so the
            # call report can still take these sections.
            rep.sections.append(("browser diagnostics", page.diagnostics()))
        page.close()
