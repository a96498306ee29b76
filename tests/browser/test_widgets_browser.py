"""The widgets in a real JupyterLab, in headless Chromium.

A notebook defines tasks in its cells, shows a configuration and an
experiment of seven jobs; the test reads the DOM: the configuration tree,
the job table with live states, progress bars that move when a job moves,
and a cancel click that reaches the kernel (the job ends cancelled on disk).
Jobs hold at a step given by a file the test writes, so every check waits for
a state that is certain to come, never for a duration.
"""

from __future__ import annotations

import json
import re

SETUP = '''
import sys, time
from pathlib import Path
from typing import Optional
from xpm_nb import Config, Meta, Param, Task, experiment, field, tag
from xpm_nb.launchers.direct import DirectLauncher

LIMITS = Path({limits!r})


class Encoder(Config):
    layers: Param[int]
    dropout: Param[float] = field(default=0.1, ignore_default=True)


class Train(Task):
    encoder: Param[Encoder]
    lr: Param[float]
    epochs: Param[int] = field(default=5)
    workers: Meta[int] = field(default=4)
    hold: Meta[Optional[Path]]  # the test's switch: steps allowed so far

    def allowed(self) -> int:
        try:
            return int(self.hold.read_text())
        except (AttributeError, OSError, ValueError):
            return 10**9

    def execute(self):
        from xpm_nb import progress

        batches = 4
        for epoch in range(self.epochs):
            progress(epoch / self.epochs, level=0, desc="epochs")
            if self.lr >= 1:
                raise FloatingPointError(f"loss diverged to nan at epoch {{epoch}}")
            for batch in range(batches):
                deadline = time.time() + 300  # never outlive a broken test
                while epoch * batches + batch >= self.allowed() and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(0.12)  # > 0.1 s: progress() keeps every report
                progress((batch + 1) / batches, level=1, desc="batches")
            print(f"epoch {{epoch}}: loss {{0.9 ** epoch:.3f}}", file=sys.stderr, flush=True)
        progress(1.0, level=0, desc="epochs")


class Evaluate(Task):
    model: Param[Train]

    def execute(self):
        print("evaluated")
'''

CONFIG_CELL = '''
cfg = Train.C(encoder=Encoder.C(layers=tag(4)), lr=tag(0.01), hold=LIMITS / "held")
print(cfg.__identifier__().hex())
cfg
'''

EXPERIMENT_CELL = '''
# Three jobs are held running at once: more than the default slots of 2 cores.
xp = experiment({workdir!r}, "sweep", launcher=DirectLauncher(max_jobs=4))
def train(layers, lr, name=None):
    hold = LIMITS / name if name else None
    return Train.C(encoder=Encoder.C(layers=tag(layers)), lr=tag(lr), hold=hold).submit()

train(2, 0.1); train(2, 0.01)         # done
train(4, 1.0)                          # fails: the loss diverges
held = train(4, 0.01, "held")          # runs, held by the test
train(8, 0.01, "slow")                 # runs, held
victim = train(8, 0.001, "victim")     # runs until the test cancels it
Evaluate.C(model=held).submit()        # waits for `held`
xp
'''

ROW = ".xpm-jt-row[data-k='{k}']"


# The texts of one column, rows in the order shown (rows are placed by translateY).
VISIBLE_COLUMN = """(col) => Array.from(document.querySelectorAll('.xpm-xp .xpm-jt-row'))
    .filter((r) => r.style.display !== 'none')
    .map((r) => [parseFloat(r.style.transform.replace('translateY(', '')), r.children[col].innerText])
    .sort((a, b) => a[0] - b[0]).map((x) => x[1])"""


def _wait_column(lab, col: int, expected: list[str]) -> None:
    """Wait until column ``col`` shows ``expected`` (a click renders on the next frame)."""
    wanted = json.dumps(json.dumps(expected, separators=(",", ":")))  # a JS string literal
    check = f"(col) => JSON.stringify(({VISIBLE_COLUMN})(col)) === {wanted}"
    try:
        _wait_js(lab, check, arg=col, timeout=10)
    except Exception:
        shown = lab.page.evaluate(VISIBLE_COLUMN, col)
        raise AssertionError(f"column {col} shows {shown}, expected {expected}") from None


def _wait_js(lab, expression: str, arg=None, timeout: float = 60.0) -> None:
    lab.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)


def test_widgets_render_update_and_cancel(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    limits = tmp_path / "limits"
    limits.mkdir()
    workdir = tmp_path / "ws"
    # Steps a job may do (4 a epoch): "held" stops after 6, at 20% of epochs, 50% of batches.
    (limits / "held").write_text("6")
    (limits / "slow").write_text("13")
    (limits / "victim").write_text("3")
    cells = [
        SETUP.format(limits=str(limits)),
        CONFIG_CELL,
        EXPERIMENT_CELL.format(workdir=str(workdir)),
    ]
    nb = jupyterlab_server.write_notebook("widgets/sweep.ipynb", cells)
    lab = lab_page
    try:
        lab.open(nb)
        lab.run_all()

        # --- configuration tree --------------------------------------------------
        cv = lab.wait_for(".xpm-cv")
        identifier = re.search(r"\b[0-9a-f]{64}\b", lab.text(".jp-OutputArea-output pre")).group(0)
        ident = cv.locator(".xpm-cv-head .xpm-id")
        assert ident.get_attribute("title") == identifier
        assert ident.inner_text() == identifier[:12] + "…"
        assert cv.locator(".xpm-cv-head button.xpm-copy").count() == 1
        tags = cv.locator(".xpm-cv-head .xpm-tag").all_inner_texts()
        assert sorted(tags) == ["layers=4", "lr=0.01"]
        lr = cv.locator(".xpm-field[data-field='lr']")
        assert lr.locator(".xpm-fname.xpm-tagged").count() == 1
        assert "0.01" in lr.locator(".xpm-value").inner_text()
        workers = cv.locator(".xpm-field[data-field='workers']")
        assert "xpm-field-noid" in workers.get_attribute("class")
        assert "not in identifier: meta" in workers.inner_text()
        encoder = cv.locator(".xpm-field[data-field='encoder']")
        assert "Encoder" in encoder.locator(".xpm-line").first.inner_text()
        dropout = encoder.locator(".xpm-field[data-field='dropout']")
        assert "not in identifier: default value" in dropout.inner_text()
        # Collapsing a nested configuration hides its fields.
        encoder.locator(".xpm-caret").first.click()
        assert not dropout.is_visible()
        encoder.locator(".xpm-caret").first.click()
        assert dropout.is_visible()

        # --- job table: live states ------------------------------------------------
        lab.wait_for(".xpm-xp .xpm-jt-row")
        _wait_js(lab, """() => {
            const s = (q) => document.querySelectorAll('.xpm-jt-row[data-state="' + q + '"]').length;
            return s('done') === 2 && s('error') === 1 && s('running') === 3 && s('waiting') === 1;
        }""")
        assert lab.count(".xpm-jt-row") == 7
        failed = lab.page.locator(".xpm-jt-row[data-state='error'] .xpm-state")
        assert "diverged" in failed.get_attribute("title")
        head = lab.query(".xpm-xp .xpm-jt-head > div")
        assert head[:4] == ["state", "task", "layers", "lr"]  # tags are columns

        # --- progress bars follow the job --------------------------------------------
        _wait_js(lab, """() => {
            const bar = (lvl) => document.querySelector(
                ".xpm-jt-row[data-k='3'] .xpm-level-" + lvl + " .xpm-bar-fill");
            return bar(0) && bar(1) && bar(0).style.width === '20%' && bar(1).style.width === '50%';
        }""")
        (limits / "held").write_text("11")  # on to 40% of epochs, 75% of batches
        _wait_js(lab, """() => {
            const bar = (lvl) => document.querySelector(
                ".xpm-jt-row[data-k='3'] .xpm-level-" + lvl + " .xpm-bar-fill");
            return bar(0) && bar(1) && bar(0).style.width === '40%' && bar(1).style.width === '75%';
        }""")

        # --- filter (client side) ------------------------------------------------------
        lab.page.fill(".xpm-xp .xpm-jt-filter", "layers=8")
        _wait_js(lab, "() => document.querySelectorAll('.xpm-xp .xpm-jt-row:not([style*=\"none\"])').length === 2")
        lab.page.fill(".xpm-xp .xpm-jt-filter", "")
        _wait_js(lab, "() => document.querySelectorAll('.xpm-xp .xpm-jt-row:not([style*=\"none\"])').length === 7")

        # --- sort (client side): by a tag column, both ways, then back ----------------
        lr_head = lab.page.locator(".xpm-xp .xpm-jt-head [data-col='tag:lr']")
        lr_head.click()
        _wait_column(lab, 3, ["0.001", "0.01", "0.01", "0.01", "0.01", "0.1", "1"])
        lr_head.click()
        _wait_column(lab, 3, ["1", "0.1", "0.01", "0.01", "0.01", "0.01", "0.001"])
        lr_head.click()  # third click: submission order again
        _wait_column(lab, 3, ["0.1", "0.01", "1", "0.01", "0.01", "0.001", "0.01"])

        # --- cancel from the browser reaches the kernel --------------------------------
        lab.click(f"{ROW.format(k=5)} button.xpm-cancel")
        lab.click(f"{ROW.format(k=5)} button.xpm-cancel.xpm-confirming")  # a cancel asks first
        _wait_js(lab, """() => {
            const row = document.querySelector(".xpm-jt-row[data-k='5']");
            return row && row.dataset.state === 'error' && row.innerText.includes('cancelled');
        }""")
        # The status line tells the outcome ("cancelling ..." gives way to the job's end).
        _wait_js(lab, """() => [...document.querySelectorAll('.xpm-jt-status')]
            .some((s) => s.textContent.includes(': error (cancelled)'))""")
        reasons = [json.loads(p.read_text())["reason"] for p in workdir.glob("jobs/*/*/*.failed")]
        assert len(reasons) == 2 and "cancelled" in reasons, reasons
        assert any("FloatingPointError: loss diverged" in r for r in reasons), reasons
        # The cancelled job counts as cancelled, the diverged one as failed.
        counts = lab.page.locator(".xpm-xp-counts [data-state='error']").get_attribute("data-count")
        assert counts == "1"
        counts = lab.page.locator(".xpm-xp-counts [data-state='cancelled']").get_attribute("data-count")
        assert counts == "1"

        # --- the failed job's details and log ------------------------------------------
        lab.click(f"{ROW.format(k=2)}")
        assert "diverged" in lab.text(".xpm-jt-detail .xpm-reason")
        _wait_js(lab, """() => {
            const log = document.querySelector('.xpm-jt-detail .xpm-log');
            return log && log.innerText.includes('FloatingPointError');
        }""")
        assert lab.cell_errors() == []
        assert lab.page_errors == [], lab.page_errors  # no error in the widgets' JavaScript
        assert not [m for m in lab.console if m.startswith("error")], lab.console
        # The picture (README): outputs only, the failed job's details open.
        lab.page.set_viewport_size({"width": 1280, "height": 1300})
        for command in ("application:toggle-left-area", "notebook:hide-all-cell-code"):
            lab.page.evaluate("(c) => window.jupyterapp.commands.execute(c)", command)
        lab.page.locator(".xpm-cv").first.scroll_into_view_if_needed()
        lab.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        lab.page.wait_for_timeout(400)  # the layout settles (no state is awaited here)
        shot = screenshot_dir / "widgets.png"
        lab.page.locator(".jp-NotebookPanel").first.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
    finally:
        for name in ("held", "slow", "victim"):
            (limits / name).write_text("1000000")  # let every job finish

