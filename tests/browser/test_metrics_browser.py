"""Metrics in a real JupyterLab, in headless Chromium: table columns, live charts, themes, widths.

A notebook runs seven jobs that log only metrics (no progress bar), all held
at a step count the test writes to a file, shows the experiment view (and
its curves panel) and a ``MetricsView`` grouped by a tag. Read from the DOM: the metric columns and
their sort, the step and values where a progress bar would be empty, the
charts' paths (a mean and a band per group, a curve per run) and points
added live, a tagged field name readable in JupyterLab Dark, a 560 px wide
table that scrolls sideways, the log panel opening on stdout, a cancelled
job counted as cancelled. The grouped curves' picture (artifacts/screenshots/
curves.png) is the README's docs/images/curves.png.
"""

from __future__ import annotations

import json

from support.labcharts import METRICS_VIEW as MV
from support.labcharts import contrast, hold_jobs, text_colours
from support.labui import LabUI

SETUP = '''
import time
from pathlib import Path
from xpm_nb import Param, Meta, Task, experiment, field, tag
from xpm_nb.launchers.direct import DirectLauncher

LIMIT = Path({limit!r})


class Train(Task):
    """Logs loss and accuracy each step (no progress bar); at most LIMIT steps so far."""
    lr: Param[float]
    seed: Param[int]
    steps: Param[int] = field(default=40)
    hold: Meta[bool] = field(default=True)

    def allowed(self) -> int:
        try:
            return int(LIMIT.read_text())
        except (OSError, ValueError):
            return 0

    def execute(self):
        import math, random
        from xpm_nb import log_metrics

        rng = random.Random(self.seed)
        scale, speed = 1.6 + 0.8 * rng.random(), 0.6 + 0.8 * rng.random()  # seeds differ
        for step in range(self.steps):
            deadline = time.time() + 300  # never outlive a broken test
            while self.hold and step >= self.allowed() and time.time() < deadline:
                time.sleep(0.05)
            loss = scale * math.exp(-self.lr * speed * step / 4) + 0.05 * rng.random()
            log_metrics(step=step, loss=loss, accuracy=1 - loss / 2.2)
            time.sleep(0.03)
        print(f"trained lr={{self.lr}} seed={{self.seed}}", flush=True)  # stdout only
'''

EXPERIMENT_CELL = '''
xp = experiment({workdir!r}, "curves", launcher=DirectLauncher(max_jobs=7))
for lr in (0.3, 1.0, 3.0):
    for seed in (0, 1):
        Train.C(lr=tag(lr), seed=tag(seed)).submit()
victim = Train.C(lr=tag(0.1), seed=tag(9)).submit()  # cancelled by the test
cfg = Train.C(lr=tag(0.5), seed=2)
xp
'''

CONFIG_CELL = "cfg"

CURVES_CELL = '''
from xpm_nb.widgets import MetricsView
MetricsView(xp, group="lr")
'''

TABLE = ".xpm-xp .xpm-jt"

# (row key, text) of one column of the experiment's table, top to bottom.
COLUMN = """(key) => {
  const root = document.querySelector('.xpm-xp .xpm-jt');
  const heads = [...root.querySelectorAll('.xpm-jt-head > div')].map((d) => d.dataset.col);
  const i = heads.indexOf(key);
  return [...root.querySelectorAll('.xpm-jt-row')].filter((r) => r.style.display !== 'none')
    .map((r) => [parseFloat(r.style.transform.replace('translateY(', '')), Number(r.dataset.k), r.children[i].textContent])
    .sort((a, b) => a[0] - b[0]).map((x) => [x[1], x[2]]);
}"""

PATHS = """() => Object.fromEntries([...document.querySelectorAll('.xpm-mc:not(.xpm-xp .xpm-mc) .xpm-mc-chart')].map((c) => [
  c.dataset.metric, {
    lines: c.querySelectorAll('path.xpm-mc-line').length,
    means: c.querySelectorAll('path.xpm-mc-mean').length,
    bands: c.querySelectorAll('path.xpm-mc-band').length,
    points: Math.max(0, ...[...c.querySelectorAll('path.xpm-mc-line, path.xpm-mc-mean')]
      .map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length)),
  }]))"""


def test_metrics_in_lab(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    limit = tmp_path / "limit"
    hold_jobs(limit, 8)
    workdir = tmp_path / "ws"
    cells = [SETUP.format(limit=str(limit)), EXPERIMENT_CELL.format(workdir=str(workdir)),
             CONFIG_CELL, CURVES_CELL]
    nb = jupyterlab_server.write_notebook("metrics/curves.ipynb", cells)
    lab = lab_page
    ui = LabUI(lab)
    try:
        lab.open(nb)
        lab.run_all()

        # --- the table: one column per metric, the last values, live ----------------------
        lab.wait_for(f"{TABLE} .xpm-jt-row")
        ui.wait_js("""() => [...document.querySelectorAll('.xpm-xp .xpm-jt-row')]
            .filter((r) => r.textContent.includes('step 7')).length === 7""")
        heads = lab.query(f"{TABLE} .xpm-jt-head > div")
        assert heads[:6] == ["state", "task", "lr", "seed", "loss", "accuracy"], heads
        # No progress bar for these jobs: the step and the values instead.
        assert lab.count(f"{TABLE} .xpm-jt-row .xpm-bar") == 0
        summary = lab.page.locator(f"{TABLE} .xpm-jt-row[data-k='0'] .xpm-metric-summary").inner_text()
        assert summary.startswith("step 7 · loss ") and "accuracy" in summary
        # A first click on "loss" sorts lowest first, on "accuracy" highest first.
        lab.page.locator(f"{TABLE} .xpm-jt-head [data-col='metric:loss']").click()
        lab.page.wait_for_timeout(200)
        losses = [float(v) for _, v in lab.page.evaluate(COLUMN, "metric:loss")]
        assert losses == sorted(losses) and len(losses) == 7
        lab.page.locator(f"{TABLE} .xpm-jt-head [data-col='metric:accuracy']").click()
        lab.page.wait_for_timeout(200)
        accuracies = [float(v) for _, v in lab.page.evaluate(COLUMN, "metric:accuracy")]
        assert accuracies == sorted(accuracies, reverse=True)

        # --- the charts: grouped by lr, then a curve per run; live points ------------------
        lab.wait_for(".xpm-mc .xpm-mc-chart[data-metric='loss'] path.xpm-mc-mean")
        paths = lab.page.evaluate(PATHS)
        assert set(paths) == {"loss", "accuracy"}
        assert (paths["loss"]["means"], paths["loss"]["bands"], paths["loss"]["lines"]) == (4, 4, 0)
        assert paths["loss"]["points"] == 8
        hold_jobs(limit, 20)  # every job goes on to step 19
        ui.wait_js(f"() => ({PATHS})().loss.points === 20")
        shot_chart = screenshot_dir / "curves-grouped.png"
        lab.page.locator(MV).first.scroll_into_view_if_needed()
        lab.page.wait_for_timeout(300)
        lab.page.locator(MV).first.screenshot(path=str(shot_chart))
        lab.page.select_option(f"{MV} .xpm-mc-group", "")
        ui.wait_js("""() => document.querySelectorAll(
            ".xpm-mc-chart[data-metric='loss'] path.xpm-mc-line").length === 7""")
        # Hover: the run's tags.
        point = lab.page.evaluate("""() => {
          const path = document.querySelector(".xpm-mc-chart[data-metric='loss'] path.xpm-mc-line[data-key='0']");
          const p = path.getPointAtLength(path.getTotalLength() / 3).matrixTransform(path.getScreenCTM());
          return [p.x, p.y];
        }""")
        lab.page.mouse.move(*point)
        ui.wait_js("() => document.querySelector('.xpm-mc-hover').textContent.includes('lr=')")
        lab.page.select_option(f"{MV} .xpm-mc-group", "lr")

        # --- the experiment view's own curves panel, on demand ----------------------------
        lab.page.locator(".xpm-xp button.xpm-xp-curves-toggle").click()
        ui.wait_js("""() => document.querySelectorAll(
            ".xpm-xp .xpm-mc-chart[data-metric='loss'] path.xpm-mc-line").length === 7""")
        lab.page.locator(".xpm-xp button.xpm-xp-curves-toggle").click()  # closed again

        # --- a cancelled job is counted apart from the failed ones --------------------------
        lab.click(f"{TABLE} .xpm-jt-row[data-k='6'] button.xpm-cancel")
        lab.click(f"{TABLE} .xpm-jt-row[data-k='6'] button.xpm-cancel.xpm-confirming")  # asks first
        ui.wait_js("""() => {
            const c = document.querySelector(".xpm-xp-counts [data-state='cancelled']");
            return c && c.dataset.count === '1';
        }""")
        assert lab.count(".xpm-xp-counts [data-state='error']") == 0

        # --- the log panel opens on stdout when stderr is empty -----------------------------
        hold_jobs(limit, 1000)
        ui.wait_js("""() => document.querySelectorAll(
            ".xpm-xp .xpm-jt-row[data-state='done']").length === 6""", timeout=120)
        lab.page.locator(f"{TABLE} .xpm-jt-row[data-k='1'] .xpm-c-task").click()
        ui.wait_js("""() => {
            const log = document.querySelector('.xpm-xp .xpm-jt-detail .xpm-log');
            return log && log.innerText.includes('trained lr=');
        }""")
        active = lab.page.locator(f"{TABLE} .xpm-jt-detail button.xpm-active").inner_text()
        assert active == "stdout"
        assert "metrics" in lab.text(f"{TABLE} .xpm-jt-detail .xpm-kv")

        # --- the picture for the README: the grouped curves, complete -----------------------
        lab.page.set_viewport_size({"width": 1100, "height": 900})
        lab.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        lab.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        lab.page.locator(MV).first.scroll_into_view_if_needed()
        lab.page.mouse.move(1, 1)
        lab.page.wait_for_timeout(500)
        shot = screenshot_dir / "curves.png"
        lab.page.locator(MV).first.screenshot(path=str(shot))  # docs/images/curves.png
        assert shot.stat().st_size > 10_000

        # --- 560 px wide: the table scrolls sideways, the cancel column stays reachable -----
        lab.page.set_viewport_size({"width": 560, "height": 900})
        lab.page.wait_for_timeout(300)
        narrow = lab.page.evaluate("""() => {
          const s = document.querySelector('.xpm-xp .xpm-jt-scroll');
          s.scrollLeft = s.scrollWidth;
          const last = document.querySelector(".xpm-xp .xpm-jt-head > div:last-child").getBoundingClientRect();
          const box = s.getBoundingClientRect();
          return { scrolls: s.scrollWidth > s.clientWidth + 10, left: s.scrollLeft,
                   inside: last.right <= box.right + 1 };
        }""")
        assert narrow["scrolls"] and narrow["left"] > 0 and narrow["inside"], narrow
        lab.page.locator(".xpm-xp").first.screenshot(path=str(screenshot_dir / "table-560px.png"))

        # --- JupyterLab Dark: a tagged field name is readable --------------------------------
        lab.page.set_viewport_size({"width": 1100, "height": 900})
        lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Dark'})")
        ui.wait_js("() => document.body.dataset.jpThemeLight === 'false'")
        lab.page.wait_for_timeout(500)
        colours = text_colours(lab.page, ".xpm-cv .xpm-fname.xpm-tagged")
        assert colours["text"] != colours["background"]
        assert contrast(colours["text"], colours["background"]) >= 4.5, colours
        lab.page.locator(".xpm-cv").first.scroll_into_view_if_needed()
        lab.page.locator(".xpm-cv").first.screenshot(path=str(screenshot_dir / "config-dark.png"))
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "curves-dark.png"))

        assert lab.cell_errors() == []
        assert lab.page_errors == [], lab.page_errors
        assert not [m for m in lab.console if m.startswith("error")], lab.console
        reasons = [json.loads(p.read_text())["reason"] for p in workdir.glob("jobs/*/*/*.failed")]
        assert reasons == ["cancelled"]
    finally:
        hold_jobs(limit, 1000000)
