"""A plain headless Chromium page (no JupyterLab) for the monitoring page tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.browser_fixtures import SCREENSHOT_DIR
from infra.jupyterlab import CHROMIUM, chromium_available, launch_chromium, playwright_available
from support.integration import need


@pytest.fixture
def browser_page(request, tmp_path: Path):
    """A playwright ``Page`` in Debian's headless Chromium; console and errors recorded.

    On failure a screenshot goes to ``artifacts/screenshots/`` and the console to the report.
    """
    need(chromium_available(), f"{CHROMIUM} missing (apt-get install chromium)")
    need(playwright_available(), "the Python playwright package is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path / "chromium-profile")
        context.set_default_timeout(60_000)
        page = context.pages[0] if context.pages else context.new_page()
        page.console_lines = []
        page.on("console", lambda m: page.console_lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: page.console_lines.append(f"pageerror: {e}"))
        try:
            yield page
        finally:
            rep = getattr(request.node, "_xpm_rep_call", None)
            if rep is not None and rep.failed:
                SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
                try:
                    page.screenshot(path=str(SCREENSHOT_DIR / f"FAILED-{name}.png"))
                except Exception:  # noqa: BLE001 - the page may be gone
                    pass
                rep.sections.append(("browser console", "\n".join(page.console_lines[-40:])))
            context.close()
