"""The monitoring page of an experiment run from a terminal, in headless Chromium.

``xpm-nb run-experiment ... --port 0`` serves the page; the browser shows the
notebook widget's job table (js/job_table.js) with live states, a cancel
click reaches the scheduler of the terminal's process, and the page without
the token (or with a wrong one) is refused.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cli.helpers import cli_command, cli_env, copy_project
from infra.browser_fixtures import SCREENSHOT_DIR
from support.paths import importable, on_pythonpath
from support.waiting import wait_until
from xpm_nb import experiment

TOKEN = "page-test-token"


def _rows(page, state: str) -> int:
    return page.locator(f".xpm-jt-row[data-state='{state}']:visible").count()


def _tag_cell(page, state: str) -> list[str]:
    return page.locator(f".xpm-jt-row[data-state='{state}']:visible .xpm-c-tag").all_inner_texts()


def test_live_job_table_in_chromium(browser_page, tmp_path):
    project = copy_project(tmp_path / "project")
    workdir = tmp_path / "ws"
    flag = tmp_path / "release"
    runner = subprocess.Popen(
        cli_command("run-experiment", project / "exp.yaml", "seeds=[1, 2, 3]", f"flag={flag}",
                    "--workdir", workdir, "--port", "0", "--token", TOKEN, "--wait-for-quit"),
        # Three jobs are held running at once: more than the default slots of 2 cores.
        env=cli_env(XPM_NB_MAX_JOBS="4"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    page = browser_page
    try:
        info_file = workdir / "experiments" / "cli-test" / "current" / "server.json"
        info = json.loads(wait_until(lambda: info_file.exists() and info_file.read_text(), 60,
                                     "server.json"))
        base = info["base_url"]
        assert base.startswith("http://127.0.0.1:")

        assert page.goto(base).status == 401
        assert page.goto(f"{base}?token=wrong").status == 403
        assert page.goto(f"{base}api/jobs").status == 401

        assert page.goto(f"{base}?token={TOKEN}").status == 200
        page.locator("#xpm-title").filter(has_text="experiment cli-test").wait_for()
        wait_until(lambda: _rows(page, "running") == 3, 60, "three running rows")
        headers = page.locator(".xpm-jt-head").inner_text()
        assert "seed" in headers and "kind" in headers and "lr" in headers

        # The task graph: one node per job, coloured by state.
        page.locator("#xpm-graph").click()
        page.locator(".xpm-dag-node").first.wait_for()
        assert page.locator(".xpm-dag-node").count() == page.locator(".xpm-jt-row:visible").count()
        assert page.locator(".xpm-dag-node[data-state='running']").count() == 3

        # Cancel the job of seed 3 from the page: the terminal's scheduler kills it.
        row = page.locator(".xpm-jt-row[data-state='running']:visible").filter(
            has=page.locator(".xpm-c-tag", has_text="3"))
        row.locator(".xpm-cancel").click()
        row.locator(".xpm-cancel", has_text="confirm?").click()  # a cancel asks first
        wait_until(lambda: _rows(page, "error") == 1, 60, "the cancelled row")
        assert "3" in _tag_cell(page, "error")

        flag.touch()  # the other jobs end
        wait_until(lambda: _rows(page, "done") == 2, 60, "two done rows")
        wait_until(lambda: page.locator(".xpm-dag-node[data-state='done']").count() == 2, 10,
                   "two done nodes in the graph")
        assert _rows(page, "running") == 0
        assert page.locator(".xpm-jt-row[data-state='error'] .xpm-state-text").inner_text() \
            == "cancelled"
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "monitor-page.png"))

        # The page outlives the jobs (--wait-for-quit) until its quit button is used.
        assert runner.poll() is None
        page.locator("#xpm-quit").click()
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 1, err  # one job was cancelled
        assert "cancelled" in err
        assert not [line for line in page.console_lines if line.startswith("pageerror")]
    finally:
        flag.touch()
        if runner.poll() is None:
            runner.kill()
            runner.wait()


#: Per curve on the page: the metric's chart and the number of points of each line.
CURVE_POINTS = """() => [...document.querySelectorAll('#xpm-curves-view .xpm-mc-chart')].map((c) => [
    c.dataset.metric,
    [...c.querySelectorAll('path.xpm-mc-line')].map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length)])"""


def test_curves_on_the_page_grow_live(browser_page, workdir, tmp_path, monkeypatch):
    """The page's "curves" button shows the experiment view's charts: one line
    per run, and the step logged after the click reaches the lines."""
    importable(__file__)
    on_pythonpath(monkeypatch, Path(__file__).parent)  # for the job processes
    from servertasks import Curve

    flag = tmp_path / "flag"
    page = browser_page
    with experiment(workdir, "page-curves", port=0, token=TOKEN) as xp:
        for lr in (0.5, 1.0):
            Curve.C(lr=lr, flag=flag).submit()
        assert page.goto(f"{xp.server.base_url}?token={TOKEN}").status == 200
        page.locator("#xpm-title").filter(has_text="experiment page-curves").wait_for()
        page.locator("#xpm-curves").click()
        assert page.locator("#xpm-curves").get_attribute("aria-pressed") == "true"
        page.wait_for_function(f"() => JSON.stringify(({CURVE_POINTS})()) === "
                               "JSON.stringify([['loss', [2, 2]]])", timeout=60_000)
        flag.touch()  # step 2 of each run, logged while the page shows the charts
        xp.wait()
        page.wait_for_function(f"() => JSON.stringify(({CURVE_POINTS})()) === "
                               "JSON.stringify([['loss', [3, 3]]])", timeout=30_000)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "monitor-page-curves.png"))
        page.locator("#xpm-curves").click()  # closes the panel
        assert page.locator("#xpm-curves-view").is_hidden()
    assert not [line for line in page.console_lines if line.startswith("pageerror")]
