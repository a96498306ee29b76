"""A blank Chromium page holding the widgets' front-end modules and a fake
anywidget model: the views' JavaScript tested without JupyterLab.

Used as ``yield from blank_page(...)`` / ``yield from clean(...)`` in the
``page`` / ``fresh`` fixtures of the tests/browser/*_js.py files.
"""

from __future__ import annotations

import base64

from infra.jupyterlab import CHROMIUM, chromium_available, launch_chromium, playwright_available
from support.integration import need
from xpm_nb.widgets.assets import bundle

FAKE_MODEL = r"""() => {
window.FakeModel = class {
  constructor(state) { this.state = { ...state }; this.handlers = new Map(); this.sent = []; this.widget_manager = null; }
  get(key) { return this.state[key]; }
  set(key, value) { this.state[key] = value; }
  save_changes() {}
  on(event, fn) { if (!this.handlers.has(event)) this.handlers.set(event, new Set()); this.handlers.get(event).add(fn); }
  off(event, fn) { const s = this.handlers.get(event); if (s) s.delete(fn); }
  send(message) { this.sent.push(message); }
  trigger(event, ...args) { this.triggerAs(undefined, event, ...args); }
  // anywidget calls a view's listeners with the view as `this`
  triggerAs(self, event, ...args) { for (const fn of [...(this.handlers.get(event) || [])]) fn.call(self, ...args); }
  change(key, value) { this.state[key] = value; this.trigger(`change:${key}`); }
};
}"""


def blank_page(profile, modules):
    """A page with ``window[name]`` = each front-end module of ``modules``; its
    ``errors`` list collects uncaught page errors."""
    need(chromium_available(), f"{CHROMIUM} missing (apt-get install chromium chromium-driver)")
    need(playwright_available(), "the Python playwright package is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = launch_chromium(pw, profile)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content("<html><body></body></html>")
            page.evaluate(FAKE_MODEL)
            for name in modules:
                url = "data:text/javascript;base64," + base64.b64encode(bundle(name).encode()).decode()
                page.evaluate("async ([name, url]) => { window[name] = await import(url); }", [name, url])
            page.errors = errors
            yield page
        finally:
            context.close()


def clean(page, viewport=None):
    """The page with an empty body and view registry; no page error after the test."""
    if viewport is not None:
        page.set_viewport_size(viewport)
    page.evaluate("() => { document.body.innerHTML = ''; delete globalThis[Symbol.for('xpm_nb.views')]; }")
    yield page
    assert page.errors == []
