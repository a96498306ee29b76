"""Fixtures of the JupyterLab UI tests: one JupyterLab server per test module,
a fresh Chromium page per test, screenshots under pytest's temporary folder.

The server and browser come from ``tests/infra`` (``JupyterLabServer``,
``LabPage``); a missing part skips locally and fails in CI
(``XPM_NB_REQUIRE_INTEGRATION=1``), through ``support.integration.need``.
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
from support.labui import LabUI


def need_browser_parts() -> None:
    need(jupyterlab_available(), "jupyterlab is not installed (pip install jupyterlab)")
    need(chromium_available(), f"{CHROMIUM} missing (apt-get install chromium chromium-driver)")
    need(playwright_available(), "the Python playwright package is not installed")
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ImportError as e:
        need(False, f"widget packages missing: {e}")


def start_lab(base: Path, extra_env: dict[str, str] | None = None) -> JupyterLabServer:
    """A JupyterLab whose kernels import this checkout's ``src`` and count job
    slots in a folder of their own (not the machine's shared slot file)."""
    need_browser_parts()
    src = str(ROOT / "src")
    pp = os.environ.get("PYTHONPATH")
    env = {
        "PYTHONPATH": src + (os.pathsep + pp if pp else ""),
        "XPM_NB_SLOTS_DIR": str(base / "slots"),
        "XPM_NB_CACHE_DIR": str(base / "results-cache"),
        **(extra_env or {}),
    }
    return JupyterLabServer(base / "lab", env=env).start()


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of key moments (pytest's temporary folder, kept for the last runs)."""
    d = tmp_path_factory.mktemp("lab-screenshots", numbered=False)
    print(f"\nscreenshots: {d}")
    return d


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"_lab_rep_{rep.when}", rep)


def open_ui(request: pytest.FixtureRequest, server: JupyterLabServer, tmp_path: Path,
            shots_dir: Path) -> Iterator[LabUI]:
    """A fresh Chromium page on ``server``; on failure a screenshot and the diagnostics."""
    page = LabPage(server, user_data_dir=tmp_path / "chromium-profile", timeout=90.0)
    ui = LabUI(page, shots_dir)
    try:
        yield ui
    finally:
        rep = getattr(request.node, "_lab_rep_call", None)
        if rep is not None and rep.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[-100:]
            try:
                shot = page.screenshot(shots_dir / f"FAILED-{name}.png", full_page=True)
                rep.sections.append(("browser screenshot", str(shot)))
            except Exception as e:  # the page may be gone
                rep.sections.append(("browser screenshot", f"failed: {e}"))
            rep.sections.append(("browser diagnostics", page.diagnostics()))
        page.close()
