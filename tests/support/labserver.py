"""JupyterLab for the UI tests (tests/lab, tests/slurm/test_slurm_lab.py): a server
per test module whose kernels import this checkout, a fresh Chromium page per
test (a screenshot and the page's diagnostics on failure).

The server and browser come from ``tests/infra`` (``JupyterLabServer``,
``LabPage``); a missing part skips locally and fails in CI
(``XPM_NB_REQUIRE_INTEGRATION=1``), through ``support.integration.need``. The
screenshots folder is the suite-wide ``shots_dir`` fixture
(``infra.browser_fixtures``).
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


def serving(base: Path, extra_env: dict[str, str] | None = None) -> Iterator[JupyterLabServer]:
    """:func:`start_lab` for a module fixture (``yield from serving(...)``): stopped after."""
    server = start_lab(base, extra_env)
    try:
        yield server
    finally:
        server.stop()


def folder(server: JupyterLabServer, name: str) -> Path:
    """A new folder ``name`` in the server's root (a test's notebooks and workspace)."""
    assert server.root_dir is not None
    d = server.root_dir / name
    d.mkdir()
    return d


def open_ui(request: pytest.FixtureRequest, server: JupyterLabServer, tmp_path: Path,
            shots_dir: Path) -> Iterator[LabUI]:
    """A fresh Chromium page on ``server``; on failure a screenshot and the diagnostics."""
    page = LabPage(server, user_data_dir=tmp_path / "chromium-profile", timeout=90.0)
    ui = LabUI(page, shots_dir)
    try:
        yield ui
    finally:
        rep = getattr(request.node, "_xpm_rep_call", None)  # infra.browser_fixtures' hook
        if rep is not None and rep.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[-100:]
            try:
                shot = page.screenshot(shots_dir / f"FAILED-{name}.png", full_page=True)
                rep.sections.append(("browser screenshot", str(shot)))
            except Exception as e:  # the page may be gone
                rep.sections.append(("browser screenshot", f"failed: {e}"))
            rep.sections.append(("browser diagnostics", page.diagnostics()))
        page.close()
