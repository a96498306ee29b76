"""The parameters panel on the monitoring page, in headless Chromium.

The page mounts the experiment view's curves (js/metrics_panel.js) over its
polls: its "parameters" panel draws one point per run against a tag, the
points follow the runs' last values, and a point's click selects the run's row
in the page's table.
"""

from __future__ import annotations

from pathlib import Path

from infra.browser_fixtures import SCREENSHOT_DIR
from support.paths import importable, on_pythonpath
from xpm_nb import experiment, tag

TOKEN = "page-params-token"

#: (run key, the value its point stands for: the end of its hover text), by key.
VALUES = """() => { const svg = document.querySelector('#xpm-curves-view .xpm-pc-chart svg');
  if (!svg || !svg.labels) return [];
  return [...svg.labels].map(([k, label]) => [Number(k), Number(label.split(' = ').pop())]).sort((a, b) => a[0] - b[0]); }"""


#: True when the points stand for these values, in key order (the hover text has 6 digits).
NEAR = f"""(expected) => {{ const got = ({VALUES})().map((v) => v[1]);
  return got.length === expected.length && got.every((v, i) => Math.abs(v - expected[i]) < 1e-5); }}"""


def test_parameters_on_the_page_follow_the_runs(browser_page, workdir, tmp_path, monkeypatch):
    importable(__file__)
    on_pythonpath(monkeypatch, Path(__file__).parent)  # for the job processes
    from servertasks import Curve

    flag = tmp_path / "flag"
    page = browser_page
    with experiment(workdir, "page-params", port=0, token=TOKEN) as xp:
        jobs = [Curve.C(lr=tag(lr), flag=flag).submit().__xpm__.job for lr in (0.5, 2.0)]
        assert page.goto(f"{xp.server.base_url}?token={TOKEN}").status == 200
        page.locator("#xpm-title").filter(has_text="experiment page-params").wait_for()
        page.locator("#xpm-curves").click()
        page.locator("#xpm-curves-view .xpm-mc-panel-parameters").click()
        # Steps 0 and 1 logged: the last loss is 1 / (1 + lr).
        page.wait_for_function(NEAR, arg=[1 / 1.5, 1 / 3], timeout=60_000)
        assert page.locator("#xpm-curves-view .xpm-pc-chart svg").get_attribute("data-kind") == "numeric"
        flag.touch()  # step 2: 1 / (1 + 2 lr)
        xp.wait()
        page.wait_for_function(NEAR, arg=[1 / 2, 1 / 5], timeout=30_000)
        # A point's click: the run's row is selected in the page's table.
        page.locator("#xpm-curves-view .xpm-pc-chart circle[data-k='1']").click()
        page.locator(".xpm-jt-row.xpm-selected").wait_for()
        selected = page.locator(".xpm-jt-row.xpm-selected .xpm-c-tag").all_inner_texts()
        assert selected == ["2"] and len(jobs) == 2  # lr=2.0 (a JSON number): the second run
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "monitor-page-params.png"))
    assert not [line for line in page.console_lines if line.startswith("pageerror")]
