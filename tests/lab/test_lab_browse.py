"""``xpm_nb.browse(ws)`` in a real JupyterLab, in headless Chromium, keyboard only.

A first notebook runs a small experiment (a ``Prep`` and two ``Learn`` jobs
logging a loss). A second notebook, with a kernel of its own that never ran
anything, calls ``xpm_nb.browse(ws)``. From the DOM, with the keyboard only
(the focus put once on the first experiment, as Tab would reach it): Enter
shows the experiment's runs (``aria-expanded``), the arrow goes to the run,
Enter opens it: three rows, all done, read from the folders; Tab to a row,
Enter: its details and its log, and its configuration (``params.json``)
under the table; Tab to "curves", Enter: a chart with one line per job;
Tab to "graph", Enter: the task graph, one node per row;
Escape goes back to the list, the focus on the run opened. Then the same
views in JupyterLab Dark, at 1400 and 560 px wide (nothing wider than the
window), with screenshots (artifacts/screenshots/browse-*.png). Last, the first
notebook's second experiment, left open with a job waiting on a gate file: the
browser shows that job running, and done once the gate opens (its folder read
again while the run has unfinished jobs), with no action in the browser.
"""

from __future__ import annotations

RUN_CELLS = ['''
from xpm_nb import Param, Task, experiment, tag


class Prep(Task):
    size: Param[int]

    def execute(self):
        import sys
        print("prepared", self.size, file=sys.stderr, flush=True)


class Learn(Task):
    data: Param[Prep]
    lr: Param[float]

    def execute(self):
        from xpm_nb import log_metrics
        for step in range(5):
            log_metrics(step=step, loss=1.0 / (1 + step * self.lr))
        print("learned", self.lr, flush=True)
''', '''
with experiment({ws!r}, "labxp") as xp:
    prep = Prep.C(size=tag(3)).submit()
    for lr in (0.5, 2.0):
        Learn.C(data=prep, lr=tag(lr)).submit()
print("ran", len(xp.jobs))
''', '''
import time
from pathlib import Path


class Gated(Task):
    n: Param[int]

    def execute(self):
        while not Path({gate!r}).exists():
            time.sleep(0.05)
        print("gate open", flush=True)


live = experiment({ws!r}, "liveexp")  # left open: its job runs on in this kernel
Gated.C(n=1).submit()
''']

BROWSE_CELLS = ["import xpm_nb\nxpm_nb.browse({ws!r})"]

BR = ".xpm-br"
LABXP = "button.xpm-br-xp[data-name='labxp']"
LIVEXP = "button.xpm-br-xp[data-name='liveexp']"
FOCUS = "() => { const a = document.activeElement; return a && a.dataset ? (a.dataset.focus || a.tagName) : null; }"


def _tab_to(lab, prefix: str, limit: int = 80, back: bool = False) -> str:
    key = ""
    for _ in range(limit):
        lab.page.keyboard.press("Shift+Tab" if back else "Tab")
        key = lab.page.evaluate(FOCUS) or ""
        if key.startswith(prefix):
            return key
    raise AssertionError(f"Tab never reached {prefix!r} (last: {key!r})")


def _wait_js(lab, expression: str, timeout: float = 60.0):
    lab.page.wait_for_function(expression, timeout=timeout * 1000)


def _overflow(lab) -> list:
    """[right edge of the browser, window width]: nothing drawn past the window."""
    return lab.page.evaluate("""() => [document.querySelector('.xpm-br').getBoundingClientRect().right,
                                        window.innerWidth]""")


def _open_run_by_keyboard(lab) -> None:
    lab.page.focus(f"{BR} button.xpm-br-xp")  # where Tab from the notebook gets: the first
    lab.page.keyboard.press("ArrowDown")
    assert lab.page.evaluate(FOCUS) == "xp:labxp"
    assert lab.page.get_attribute(f"{BR} {LABXP}", "aria-expanded") == "false"
    lab.page.keyboard.press("Enter")
    _wait_js(lab, f"() => document.querySelector(\"{BR} {LABXP}\").getAttribute('aria-expanded') === 'true'")
    assert lab.page.evaluate(FOCUS) == "xp:labxp"
    lab.page.keyboard.press("ArrowDown")
    assert (lab.page.evaluate(FOCUS) or "").startswith("run:labxp/")
    lab.page.keyboard.press("Enter")
    _wait_js(lab, "() => document.querySelectorAll(\".xpm-br .xpm-jt-row[data-state='done']\").length === 3")
    assert lab.page.evaluate(FOCUS) == "br:back"


def test_browse_past_run_in_lab(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    ws = tmp_path / "ws"
    gate = tmp_path / "gate"
    run_nb = jupyterlab_server.write_notebook("browse/run.ipynb",
                                              [c.format(ws=str(ws), gate=str(gate)) for c in RUN_CELLS])
    browse_nb = jupyterlab_server.write_notebook("browse/browse.ipynb",
                                                 [c.format(ws=str(ws)) for c in BROWSE_CELLS])
    lab = lab_page
    lab.open(run_nb)
    lab.run_all(timeout=240)
    assert len(list(ws.glob("jobs/*/*/*.done"))) == 3
    for _ in range(300):  # the gated job of the experiment left open has started
        if list(ws.glob("jobs/*gated/*/gated.pid")):
            break
        lab.page.wait_for_timeout(100)
    assert list(ws.glob("jobs/*gated/*/gated.pid"))

    # --- a second notebook, a fresh kernel: nothing re-run, everything from the folders ---
    lab.open(browse_nb)
    lab.page.set_viewport_size({"width": 1400, "height": 1000})
    lab.run_all()
    lab.wait_for(f"{BR} button.xpm-br-xp")
    assert lab.query(f"{BR} button.xpm-br-xp .xpm-br-name") == ["liveexp", "labxp"]  # last run first
    assert "3 done" in lab.text(f"{BR} {LABXP}")
    assert "1 running" in lab.text(f"{BR} {LIVEXP}")
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-list-light-1400.png"))
    _open_run_by_keyboard(lab)
    names = sorted(lab.query(f"{BR} .xpm-jt-row .xpm-c-task"))
    assert names == ["Learn", "Learn", "Prep"]
    assert "3 jobs" in lab.text(f"{BR} .xpm-br-summary")

    # Tab to a row (a Learn), Enter: details with its log, and its configuration.
    row_key = _tab_to(lab, "row:")
    k = row_key.split(":")[1]
    lab.page.keyboard.press("Enter")
    lab.wait_for(f"{BR} .xpm-jt-detail")
    _wait_js(lab, "() => { const p = document.querySelector('.xpm-br .xpm-jt-detail pre.xpm-log');"
                  " return p && /prepared|learned/.test(p.textContent); }")
    task = lab.page.evaluate(f"() => document.querySelector(\".xpm-br .xpm-jt-row[data-k='{k}'] .xpm-c-task\").textContent")
    lab.wait_for(f"{BR} .xpm-br-config .xpm-cv")
    cls = lab.text(f"{BR} .xpm-br-config .xpm-cv-cls")
    assert cls == task
    fields = lab.page.evaluate("() => [...document.querySelectorAll('.xpm-br .xpm-br-config .xpm-tree > li')]"
                               ".map((li) => li.dataset.field)")
    assert fields == (["data", "lr"] if task == "Learn" else ["size"]), fields
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-run-light-1400.png"))

    # Curves: Shift+Tab back to the "curves" button, Enter.
    _tab_to(lab, "br:curves", back=True)
    lab.page.keyboard.press("Enter")
    _wait_js(lab, "() => document.querySelectorAll(\".xpm-br .xpm-mc-chart[data-metric='loss'] path.xpm-mc-line\").length === 2")
    assert lab.page.get_attribute(f"{BR} button.xpm-br-curves-toggle", "aria-pressed") == "true"
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-curves-light-1400.png"))
    # Graph: Tab to "graph", Enter: one node per row, an edge from Prep to each Learn.
    _tab_to(lab, "br:graph")
    lab.page.keyboard.press("Enter")
    _wait_js(lab, "() => document.querySelectorAll('.xpm-br .xpm-dag-node').length === 3")
    assert lab.page.locator(f"{BR} .xpm-dag-edge").count() == 2

    # 560 px wide: nothing past the window.
    lab.page.evaluate("""() => { const app = window.jupyterapp;
        if (!app.shell.leftCollapsed) return app.commands.execute('application:toggle-left-area'); }""")
    lab.page.set_viewport_size({"width": 560, "height": 1000})
    lab.page.wait_for_timeout(500)
    right, width = _overflow(lab)
    assert right <= width + 1, (right, width)
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-run-light-560.png"))

    # Escape: back to the list, the focus on the run opened.
    _tab_to(lab, "br:back", back=True)
    lab.page.keyboard.press("Escape")
    lab.wait_for(f"{BR} button.xpm-br-run")
    assert (lab.page.evaluate(FOCUS) or "").startswith("run:labxp/")
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-list-light-560.png"))

    # --- JupyterLab Dark, 560 then 1400 px ------------------------------------------------------
    lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    _wait_js(lab, "() => document.body.dataset.jpThemeLight === 'false'")
    lab.page.wait_for_timeout(500)
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-list-dark-560.png"))
    lab.page.keyboard.press("Enter")  # the run still has the focus: opens it again
    _wait_js(lab, "() => document.querySelectorAll(\".xpm-br .xpm-jt-row[data-state='done']\").length === 3")
    right, width = _overflow(lab)
    assert right <= width + 1, (right, width)
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-run-dark-560.png"))
    lab.page.set_viewport_size({"width": 1400, "height": 1000})
    lab.page.wait_for_timeout(300)
    _tab_to(lab, "row:")
    lab.page.keyboard.press("Enter")
    lab.wait_for(f"{BR} .xpm-br-config .xpm-cv")
    _tab_to(lab, "br:curves", back=True)
    lab.page.keyboard.press("Enter")
    lab.wait_for(f"{BR} .xpm-mc-chart[data-metric='loss'] path.xpm-mc-line")
    # Dark theme: the browser's text is light on a dark background.
    colors = lab.page.evaluate("""() => { const s = getComputedStyle(document.querySelector('.xpm-br .xpm-br-xp-name'));
        const b = getComputedStyle(document.querySelector('.xpm-br .xpm-jt'));
        return [s.color, b.backgroundColor]; }""")
    lum = [sum(int(v) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3]) for c in colors]
    assert lum[0] > 400 and lum[1] < 200, colors
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-run-dark-1400.png"))

    # --- the job the first kernel still runs: running, then done with no action --------------
    lab.page.keyboard.press("Escape")  # (the focus on "curves"): back to the list
    lab.wait_for(f"{BR} {LIVEXP}")
    assert (lab.page.evaluate(FOCUS) or "").startswith("run:labxp/")
    lab.page.keyboard.press("ArrowUp")
    lab.page.keyboard.press("ArrowUp")
    assert lab.page.evaluate(FOCUS) == "xp:liveexp"
    lab.page.keyboard.press("Enter")
    lab.page.keyboard.press("ArrowDown")
    assert (lab.page.evaluate(FOCUS) or "").startswith("run:liveexp/")
    lab.page.keyboard.press("Enter")
    _wait_js(lab, "() => document.querySelectorAll(\".xpm-br .xpm-jt-row[data-state='running']\").length === 1")
    assert not lab.page.locator(f"{BR} .xpm-jt-row[data-state='running'] button.xpm-cancel").is_visible()  # read only
    lab.page.locator(BR).first.screenshot(path=str(screenshot_dir / "browse-running-dark-1400.png"))
    gate.touch()
    _wait_js(lab, "() => document.querySelectorAll(\".xpm-br .xpm-jt-row[data-state='done']\").length === 1",
             timeout=30)
    _wait_js(lab, "() => /1 done/.test(document.querySelector('.xpm-br .xpm-br-summary').textContent)")

    assert lab.cell_errors() == []
    assert lab.page_errors == [], lab.page_errors
