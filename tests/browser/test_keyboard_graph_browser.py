"""Keyboard use, cancel confirmation, the task graph and the monitoring link in a real
JupyterLab, in headless Chromium (issue 19).

A notebook runs a small pipeline (3 ``Prep`` jobs, each needed by two
``Train`` jobs, each needed by an ``Eval``) held by a gate file, with the
monitoring page on (``port=0``). Read from the DOM: Tab reaches the header,
Enter sorts and ``aria-sort`` says so; Tab reaches a row, Enter opens its
details, and the focus stays on that row while the running jobs' progress
updates the table; a cancel needs its "confirm?" click (the job runs on
meanwhile); the graph view has the 15 jobs in three columns, coloured by their
live state; the header links the monitoring page with its token. Screenshots
in light and dark themes and at 560 px (artifacts/screenshots/issue19-*.png).
"""

from __future__ import annotations

import json

SETUP = '''
import time
from pathlib import Path
from xpm_nb import Param, Meta, Task, experiment, field, tag
from xpm_nb.launchers.direct import DirectLauncher

GATE = Path({gate!r})


def hold(task):
    """Report progress until the gate opens (at most 300 s)."""
    from xpm_nb import progress

    deadline = time.time() + 300
    i = 0
    while not GATE.exists() and time.time() < deadline:
        i += 1
        progress((i % 20) / 20, desc="waiting")
        time.sleep(0.15)


class Prep(Task):
    part: Param[int]

    def execute(self):
        hold(self)


class Train(Task):
    prep: Param[Prep]
    lr: Param[float]

    def execute(self):
        hold(self)


class Eval(Task):
    model: Param[Train]
    hold_it: Meta[bool] = field(default=True)

    def execute(self):
        hold(self)
'''

EXPERIMENT_CELL = '''
xp = experiment({workdir!r}, "pipeline", launcher=DirectLauncher(max_jobs=16), port=0)
for part in range(3):
    prep = Prep.C(part=tag(part)).submit()
    for lr in (0.1, 1.0):
        train = Train.C(prep=prep, lr=tag(lr)).submit()
        Eval.C(model=train).submit()
xp
'''

XP = ".xpm-xp"
TABLE = ".xpm-xp .xpm-jt"
FOCUS = "() => { const a = document.activeElement; return a && a.dataset ? (a.dataset.focus || a.tagName) : null; }"
NODES = """() => [...document.querySelectorAll('.xpm-xp .xpm-dag-node')].map((g) => ({
  k: Number(g.dataset.k), layer: Number(g.dataset.layer), state: g.dataset.state,
  fill: g.querySelector('rect').getAttribute('fill') }))"""


def _wait_js(lab, expression: str, arg=None, timeout: float = 60.0):
    lab.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)


def _tab_to(lab, prefix: str, limit: int = 60) -> str:
    """Press Tab until the focused element's key starts with ``prefix``; its key."""
    for _ in range(limit):
        lab.page.keyboard.press("Tab")
        key = lab.page.evaluate(FOCUS) or ""
        if key.startswith(prefix):
            return key
    raise AssertionError(f"Tab never reached {prefix!r} (last: {key!r})")


def test_keyboard_cancel_graph_in_lab(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    gate = tmp_path / "gate"
    workdir = tmp_path / "ws"
    nb = jupyterlab_server.write_notebook("issue19/pipeline.ipynb",
                                          [SETUP.format(gate=str(gate)), EXPERIMENT_CELL.format(workdir=str(workdir))])
    lab = lab_page
    try:
        lab.open(nb)
        lab.run_all()
        lab.wait_for(f"{TABLE} .xpm-jt-row")
        _wait_js(lab, """() => document.querySelectorAll(".xpm-xp .xpm-jt-row[data-state='running']").length === 3""")

        # --- the monitoring page: a link, with its token (asked by the live view) ------------
        _wait_js(lab, """() => { const a = document.querySelector('.xpm-xp a.xpm-xp-monitor');
                                 return a && a.href.includes('?token='); }""")
        token = json.loads(next(workdir.glob("experiments/pipeline/*/server.json")).read_text())["token"]
        assert lab.page.get_attribute(f"{XP} a.xpm-xp-monitor", "href").endswith(f"?token={token}")

        # --- keyboard only: Tab to a header, Enter sorts ---------------------------------------
        lab.page.focus(f"{TABLE} .xpm-jt-filter")
        assert _tab_to(lab, "head:") == "head:state"
        lab.page.keyboard.press("Tab")
        assert lab.page.evaluate(FOCUS) == "head:task"
        lab.page.keyboard.press("Enter")
        _wait_js(lab, """() => document.querySelector(".xpm-xp .xpm-jt-head [data-col='task']")
            .getAttribute('aria-sort') === 'ascending'""")
        assert lab.page.evaluate(FOCUS) == "head:task"
        # The rows move at the table's next frame (the header says it at once).
        shown = """() => [...document.querySelectorAll('.xpm-xp .xpm-jt-row')]
            .filter((r) => r.style.display !== 'none')
            .sort((a, b) => parseFloat(a.style.transform.slice(11)) - parseFloat(b.style.transform.slice(11)))
            .map((r) => r.querySelector('.xpm-c-task').textContent)"""
        _wait_js(lab, f"() => {{ const n = ({shown})(); return n.length > 0 && n[0] === 'Eval'"
                      " && n.every((x, i) => i === 0 || n[i - 1] <= x); }", timeout=10)
        names = lab.page.evaluate(shown)
        assert names == sorted(names) and names[0] == "Eval"
        # Tab to a row (the first shown: an Eval), Enter opens its details.
        row_key = _tab_to(lab, "row:")
        k = int(row_key.split(":")[1])
        lab.page.keyboard.press("Enter")
        lab.wait_for(f"{TABLE} .xpm-jt-detail")
        assert "depends on" in lab.text(f"{TABLE} .xpm-jt-detail .xpm-kv")
        # The running jobs report progress all the time: the focus stays on the row.
        updates = lab.page.evaluate("""() => new Promise((resolve) => {
            let n = 0;
            const obs = new MutationObserver(() => { n++; });
            obs.observe(document.querySelector('.xpm-xp .xpm-jt-body'), { childList: true, subtree: true });
            setTimeout(() => { obs.disconnect(); resolve(n); }, 2500);
        })""")
        assert updates > 0
        assert lab.page.evaluate(FOCUS) == row_key
        # Arrow down, then Enter: the next row's details.
        lab.page.keyboard.press("ArrowDown")
        lab.page.wait_for_timeout(150)
        assert lab.page.evaluate(FOCUS) != row_key and lab.page.evaluate(FOCUS).startswith("row:")
        lab.page.keyboard.press("Escape")  # nothing happens; the focus stays in the table
        assert lab.page.evaluate(FOCUS).startswith("row:")

        # --- the graph: three columns, live colours ---------------------------------------------
        lab.page.locator(f"{XP} button.xpm-xp-graph-toggle").click()
        lab.wait_for(f"{XP} .xpm-dag-node")
        nodes = lab.page.evaluate(NODES)
        assert len(nodes) == 15
        assert sorted(n["layer"] for n in nodes) == [0] * 3 + [1] * 6 + [2] * 6
        assert {n["state"] for n in nodes if n["layer"] == 0} == {"running"}
        assert {n["state"] for n in nodes if n["layer"] > 0} == {"waiting"}
        assert lab.count(f"{XP} .xpm-dag-edge") == 12
        lab.page.locator(f"{XP} .xpm-xp-graph").screenshot(path=str(screenshot_dir / "issue19-graph-light.png"))
        # A node opens its job's details.
        lab.page.locator(f"{XP} .xpm-dag-node[data-layer='0']").first.click()
        _wait_js(lab, """() => (document.querySelector('.xpm-xp .xpm-jt-detail') || {}).innerText
            .includes('needed by')""")

        # --- cancel asks first ------------------------------------------------------------------
        prep_row = f"{TABLE} .xpm-jt-row[data-state='running']"
        victim = int(lab.page.locator(prep_row).first.get_attribute("data-k"))
        button = f"{TABLE} .xpm-jt-row[data-k='{victim}'] button.xpm-cancel"
        lab.click(button)
        _wait_js(lab, f"() => document.querySelector(\"{button}\").textContent === 'confirm?'")
        lab.page.locator(f"{TABLE}").screenshot(path=str(screenshot_dir / "issue19-confirm.png"))
        lab.page.wait_for_timeout(800)
        assert not list(workdir.glob("jobs/*/*/*.failed"))  # nothing sent yet
        assert lab.page.get_attribute(f"{TABLE} .xpm-jt-row[data-k='{victim}']", "data-state") == "running"
        lab.click(button)
        _wait_js(lab, f"""() => {{
            const r = document.querySelector(".xpm-xp .xpm-jt-row[data-k='{victim}']");
            return r && r.dataset.state === 'error';
        }}""")
        # Its dependants end failed (dependency failed), the graph shows it live.
        _wait_js(lab, """() => [...document.querySelectorAll('.xpm-xp .xpm-dag-node')]
            .filter((g) => g.dataset.state === 'cancelled' || g.dataset.state === 'error').length === 5""")

        # --- the rest runs to the end: the graph turns green ---------------------------------------
        gate.touch()
        _wait_js(lab, """() => [...document.querySelectorAll('.xpm-xp .xpm-dag-node')]
            .filter((g) => g.dataset.state === 'done').length === 10""", timeout=120)
        nodes = lab.page.evaluate(NODES)
        done_fill = {n["fill"] for n in nodes if n["state"] == "done"}
        assert len(done_fill) == 1
        lab.page.locator(f"{XP} .xpm-xp-graph").screenshot(path=str(screenshot_dir / "issue19-graph-done.png"))

        # --- compare two Train jobs: only what differs (the prep's part and lr) ----------------
        trains = lab.page.evaluate("""() => [...document.querySelectorAll('.xpm-xp .xpm-jt-row')]
            .filter((r) => r.querySelector('.xpm-c-task').textContent === 'Train').map((r) => r.dataset.k)""")
        for k in trains[-2:]:
            lab.page.locator(f"{TABLE} .xpm-jt-row[data-k='{k}'] input.xpm-pick").check()
        lab.click(f"{TABLE} button.xpm-jt-compare")
        lab.wait_for(f"{TABLE} .xpm-cmp-table")
        paths = lab.query(f"{TABLE} .xpm-cmp-table td.xpm-cmp-path")
        assert "lr" in paths and "prep.part" not in paths, paths  # same prep: only lr differs
        lab.page.locator(f"{TABLE} .xpm-cmp").screenshot(path=str(screenshot_dir / "issue19-compare.png"))

        # --- 560 px wide ----------------------------------------------------------------------------
        lab.page.evaluate("""() => { const app = window.jupyterapp;
            if (!app.shell.leftCollapsed) return app.commands.execute('application:toggle-left-area'); }""")
        lab.page.set_viewport_size({"width": 560, "height": 900})
        lab.page.wait_for_timeout(400)
        lab.page.locator(XP).first.screenshot(path=str(screenshot_dir / "issue19-560px.png"))
        scroll = lab.page.evaluate("""() => { const s = document.querySelector('.xpm-xp .xpm-dag-scroll');
            const b = s.getBoundingClientRect(); return [b.right, window.innerWidth, s.scrollWidth > s.clientWidth]; }""")
        assert scroll[0] <= scroll[1] + 1 and scroll[2], scroll  # the graph scrolls inside its box

        # --- JupyterLab Dark ------------------------------------------------------------------------
        lab.page.set_viewport_size({"width": 1100, "height": 900})
        lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Dark'})")
        _wait_js(lab, "() => document.body.dataset.jpThemeLight === 'false'")
        lab.page.wait_for_timeout(500)
        lab.page.locator(f"{TABLE} .xpm-jt-row[data-k='{victim}'] .xpm-c-task").click()
        lab.page.wait_for_timeout(300)
        lab.page.locator(XP).first.screenshot(path=str(screenshot_dir / "issue19-dark.png"))

        assert lab.cell_errors() == []
        assert lab.page_errors == [], lab.page_errors
        reasons = sorted(json.loads(p.read_text())["reason"] for p in workdir.glob("jobs/*/*/*.failed"))
        assert reasons == ["cancelled"], reasons  # its dependants never ran: no folder marker
    finally:
        gate.touch()
