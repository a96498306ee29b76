"""The parameters panel in a real JupyterLab, in headless Chromium: a metric per run against a tag.

A notebook runs a grid over a numeric parameter (``lr``, four values, tagged;
``opt`` a categorical tag) whose jobs log a loss each step, held at a step
count the test writes to a file; it shows ``MetricsView(xp, panel="parameters",
x="lr")`` and the experiment view. Read from the DOM: no point before a job
logged, then one point per run appearing live, a run's point moving as its
last value drops, the lowest value with "min", the run's tags on hover, a
categorical x (a strip), in the experiment view's panel a point's click
selecting the run's row; readable at 560 px (nothing wider than the window)
and in JupyterLab Dark (axis labels contrast with the background).
Screenshots: artifacts params-*.png.
"""

from __future__ import annotations

import math

import pytest

from support.labcharts import METRICS_VIEW as MV
from support.labcharts import contrast, hold_jobs, text_colours
from support.labui import LabUI

SETUP = '''
import time
from pathlib import Path
from xpm_nb import Param, Task, experiment, field, tag
from xpm_nb.launchers.direct import DirectLauncher

LIMIT = Path({limit!r})


class Train(Task):
    """Logs a loss each step; at most LIMIT steps so far."""
    lr: Param[float]
    opt: Param[str]
    steps: Param[int] = field(default=30)

    def allowed(self) -> int:
        try:
            return int(LIMIT.read_text())
        except (OSError, ValueError):
            return 0

    def execute(self):
        import math
        from xpm_nb import log_metrics

        for step in range(self.steps):
            deadline = time.time() + 300  # never outlive a broken test
            while step >= self.allowed() and time.time() < deadline:
                time.sleep(0.05)
            log_metrics(step=step, loss=2 * math.exp(-self.lr * step / 3) + 0.1 * math.log10(self.lr) ** 2)
            time.sleep(0.02)
'''

EXPERIMENT_CELL = '''
xp = experiment({workdir!r}, "params", launcher=DirectLauncher(max_jobs=4))
for lr, opt in ((0.01, "sgd"), (0.1, "adam"), (1.0, "sgd"), (3.0, "adam")):
    Train.C(lr=tag(lr), opt=tag(opt)).submit()
xp
'''

PARAMS_CELL = '''
from xpm_nb.widgets import MetricsView
MetricsView(xp, panel="parameters", metric="loss", x="lr", color="opt")
'''

DOTS = """(root) => [...document.querySelectorAll(root + ' .xpm-pc-chart circle.xpm-pc-point')].map((c) => ({
  k: Number(c.dataset.k), cx: Number(c.getAttribute('cx')), cy: Number(c.getAttribute('cy')) }))"""


# The value a run's point stands for (the number at the end of its hover text).
VALUE = """([root, k]) => { const svg = document.querySelector(root + ' .xpm-pc-chart svg');
  const label = svg && svg.labels && svg.labels.get(String(k));
  return label ? Number(label.split(' = ').pop()) : null; }"""


def test_parameters_view_in_lab(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    limit = tmp_path / "limit"
    hold_jobs(limit, 0)
    workdir = tmp_path / "ws"
    cells = [SETUP.format(limit=str(limit)), EXPERIMENT_CELL.format(workdir=str(workdir)), PARAMS_CELL]
    nb = jupyterlab_server.write_notebook("params/grid.ipynb", cells)
    lab = lab_page
    ui = LabUI(lab)
    try:
        lab.open(nb)
        lab.page.set_viewport_size({"width": 1100, "height": 900})
        lab.run_all()

        # --- nothing logged yet: the panel is there, no point ------------------------------
        lab.wait_for(f"{MV} .xpm-pc-chart svg")
        assert lab.page.get_attribute(f"{MV} .xpm-pc-chart svg", "data-points") == "0"
        assert lab.page.get_attribute(f"{MV} .xpm-mc-panel-parameters", "aria-pressed") == "true"

        # --- points appear live: one per run, on a log x (0.01 to 3) ------------------------
        hold_jobs(limit, 2)
        ui.wait_js("(root) => document.querySelector(root + ' .xpm-pc-chart svg').dataset.points === '4'", MV)
        dots = lab.page.evaluate(DOTS, MV)
        assert sorted(d["k"] for d in dots) == [0, 1, 2, 3]
        xs = [d["cx"] for d in sorted(dots, key=lambda d: d["k"])]
        assert xs == sorted(xs)  # lr grows with the key
        assert xs[1] - xs[0] > xs[3] - xs[2]  # log scale: 0.01 -> 0.1 wider than 1 -> 3
        assert lab.page.get_attribute(f"{MV} .xpm-pc-chart svg", "data-kind") == "numeric"
        assert "lr (log scale)" in lab.text(f"{MV} .xpm-pc-chart")
        first = lab.page.evaluate(VALUE, [MV, 3])
        assert first == pytest.approx(2 * math.exp(-1) + 0.1 * math.log10(3) ** 2, rel=1e-4)  # step 1
        before = {d["k"]: d["cy"] for d in dots}
        lab.page.locator(MV).first.scroll_into_view_if_needed()
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "params-step2.png"))

        # Later steps: the last losses drop; the y axis follows, the points move.
        hold_jobs(limit, 12)
        ui.wait_js(f"(arg) => ({VALUE})(arg) < 0.1", [MV, 3])
        assert lab.page.evaluate(DOTS, MV) != dots and before
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "params-live.png"))

        # Hover: the run's tags and value.
        lab.page.locator(f"{MV} .xpm-pc-chart circle[data-k='1']").hover()
        ui.wait_js("(root) => document.querySelector(root + ' .xpm-mc-hover').textContent.includes('lr=0.1')", MV)
        hover = lab.text(f"{MV} .xpm-mc-hover")
        assert "opt=adam" in hover and "last loss = " in hover

        # "min" and a categorical x: two columns (adam, sgd), two runs each.
        lab.page.select_option(f"{MV} .xpm-pc-best", "min")
        lab.page.select_option(f"{MV} .xpm-pc-x", "opt")
        ui.wait_js("(root) => document.querySelector(root + ' .xpm-pc-chart svg').dataset.kind === 'categorical'", MV)
        labels = lab.page.evaluate("(root) => [...document.querySelectorAll(root + ' .xpm-pc-chart .xpm-mc-axis text')]"
                                   ".map((t) => t.textContent)", MV)
        assert "adam" in labels and "sgd" in labels and "min loss" in labels
        strip = lab.page.evaluate(DOTS, MV)
        middle = sum(d["cx"] for d in strip) / 4
        assert {d["k"] for d in strip if d["cx"] < middle} == {1, 3}  # adam first (sorted)
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "params-strip.png"))
        lab.page.select_option(f"{MV} .xpm-pc-x", "lr")

        # --- the experiment view's panel: a point's click selects the run's row --------------
        lab.page.locator(".xpm-xp button.xpm-xp-curves-toggle").click()
        lab.page.locator(".xpm-xp .xpm-mc-panel-parameters").click()
        ui.wait_js("() => document.querySelectorAll('.xpm-xp .xpm-pc-chart circle.xpm-pc-point').length === 4")
        lab.page.locator(".xpm-xp .xpm-pc-chart circle[data-k='2']").click()
        ui.wait_js("() => document.querySelectorAll('.xpm-xp .xpm-jt-row.xpm-selected').length === 1")
        tags = lab.page.evaluate("() => [...document.querySelectorAll('.xpm-xp .xpm-jt-row.xpm-selected .xpm-c-tag')]"
                                 ".map((c) => c.textContent)")
        assert tags == ["1", "sgd"], tags  # lr=1.0 (a JSON number), opt=sgd
        assert lab.page.locator(".xpm-xp .xpm-jt-detail").count() == 1

        # --- 560 px: nothing wider than the window, the chart readable -----------------------
        lab.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        lab.page.set_viewport_size({"width": 560, "height": 900})
        lab.page.wait_for_timeout(800)  # redrawn at the output's width (a ResizeObserver)
        widths = lab.page.evaluate("""(root) => {
          const svg = document.querySelector(root + ' .xpm-pc-chart svg').getBoundingClientRect();
          const bar = document.querySelector(root + ' .xpm-mc-toolbar').getBoundingClientRect();
          return { svg: svg.right, bar: bar.right, width: window.innerWidth, svgWidth: svg.width };
        }""", MV)
        assert widths["svg"] <= widths["width"] and widths["bar"] <= widths["width"], widths
        assert 400 <= widths["svgWidth"] <= 560, widths
        lab.page.locator(MV).first.scroll_into_view_if_needed()
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "params-560px.png"))

        # --- JupyterLab Dark: axis labels readable --------------------------------------------
        lab.page.set_viewport_size({"width": 1100, "height": 900})
        lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Dark'})")
        ui.wait_js("() => document.body.dataset.jpThemeLight === 'false'")
        lab.page.wait_for_timeout(500)
        colours = text_colours(lab.page, f"{MV} .xpm-pc-chart .xpm-mc-axis text", "fill")
        assert contrast(colours["text"], colours["background"]) >= 4.5, colours
        lab.page.locator(MV).first.scroll_into_view_if_needed()
        lab.page.locator(MV).first.screenshot(path=str(screenshot_dir / "params-dark.png"))

        assert lab.cell_errors() == []
        assert lab.page_errors == [], lab.page_errors
        assert not [m for m in lab.console if m.startswith("error")], lab.console
    finally:
        hold_jobs(limit, 1000000)
