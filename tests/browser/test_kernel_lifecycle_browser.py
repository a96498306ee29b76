"""The views through a notebook's life in a real JupyterLab, driven from its menus.

- A job table is complete at its first render, whatever the cells after it do
  (the rows come with the widget's opening message), and stays live while a
  later cell blocks the kernel (patches come from the scheduler's thread).
- Kernel > Restart Kernel: the old outputs go inert (a note, no pulsing
  "running", durations stopped, every action disabled) and clicks send nothing.
- File > Save, stop the server, start a new one, open the file from the file
  browser: the tables show (restored from the notebook's widget metadata),
  not "Error displaying widget: model not found".

Jobs hold on gate files the test writes, so every check waits for a state
that is certain to come. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from infra.jupyterlab import (
    CHROMIUM,
    ROOT,
    LabPage,
    chromium_available,
    jupyterlab_available,
    playwright_available,
)
from support.integration import need
from support.labui import LabUI, fresh_lab

SETUP = '''
import os, time
from pathlib import Path
from typing import Optional
os.environ["XPM_NB_SLOTS_DIR"] = {slots!r}  # job slots of this test only
from xpm_nb import Meta, Param, Task, experiment, tag
from xpm_nb.launchers.direct import DirectLauncher

GATES = Path({gates!r})


class Work(Task):
    i: Param[int]
    gate: Meta[Optional[str]]  # a file name in GATES: the job waits for it

    def execute(self):
        from xpm_nb import progress

        if self.i < 0:
            raise ValueError(f"negative: {{self.i}}")
        progress(0.5, desc="half")
        deadline = time.time() + 300  # never outlive a broken test
        while self.gate and not (GATES / self.gate).exists() and time.time() < deadline:
            time.sleep(0.05)
'''

ROWS = ".xpm-xp .xpm-jt-row:not([style*='none'])"


def cells_setup(tmp_path: Path) -> str:
    gates = tmp_path / "gates"
    gates.mkdir(exist_ok=True)
    return SETUP.format(slots=str(tmp_path / "slots"), gates=str(gates))


def open_gates(tmp_path: Path, *names: str) -> None:
    for name in names:
        (tmp_path / "gates" / name).write_text("")


def shot(lab: LabPage, screenshot_dir: Path, name: str, top: str = ".xpm-root") -> Path:
    """The notebook panel, scrolled so that the output ``top`` is at its top."""
    lab.page.locator(top).first.evaluate("(el) => el.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    lab.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    lab.page.wait_for_timeout(300)  # the scroll settles (no state is awaited here)
    path = screenshot_dir / f"{name}.png"
    lab.page.locator(".jp-NotebookPanel").first.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


# --- A: complete from the first render, live while later cells block ------------------

BUSY_XP = '''
xp = experiment({workdir!r}, "busy", launcher=DirectLauncher(max_jobs=10))
for i in range(4):
    Work.C(i=tag(i), gate="jobs").submit()
display(xp)                      # the view opens with 4 jobs...
for i in range(4, 10):           # ...and 6 more come while it is shown
    Work.C(i=tag(i), gate="jobs").submit()
'''

BLOCK = '''
deadline = time.time() + 300
while not (GATES / "cell").exists() and time.time() < deadline:
    time.sleep(0.05)
'''


def test_the_table_is_complete_while_later_cells_run(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    nb = jupyterlab_server.write_notebook("lifecycle/busy.ipynb", [
        cells_setup(tmp_path), BUSY_XP.format(workdir=str(tmp_path / "ws")), BLOCK])
    lab = lab_page
    ui = LabUI(lab)
    try:
        lab.open(nb)
        ui.run_all()
        ui.wait(lambda: ui.cell_running(2) and lab.count(".xpm-xp") == 1, what="the blocking cell runs")
        # While the third cell blocks the kernel: every job is in the table.
        ui.wait_js(f"() => document.querySelectorAll(\"{ROWS}\").length === 10")
        assert lab.text(".xpm-xp .xpm-jt-count") == "10 jobs"
        ui.wait_js("() => document.querySelectorAll(\".xpm-xp .xpm-jt-row[data-state='running']\").length === 10")
        assert ui.cell_running(2)
        # The jobs end while the cell still blocks: their states still reach the table.
        open_gates(tmp_path, "jobs")
        ui.wait_js("() => document.querySelectorAll(\".xpm-xp .xpm-jt-row[data-state='done']\").length === 10")
        assert ui.cell_running(2)
        shot(lab, screenshot_dir, "busy-kernel-table")
        open_gates(tmp_path, "cell")
        lab.wait_idle()
        assert lab.cell_errors() == [] and lab.page_errors == []
    finally:
        open_gates(tmp_path, "jobs", "cell")


# --- B: a restarted kernel leaves inert views --------------------------------------------

RESTART_XP = '''
xp = experiment({workdir!r}, "restart", launcher=DirectLauncher(max_jobs=4))
Work.C(i=tag(1)).submit()
held = Work.C(i=tag(2), gate="held").submit()
Work.C(i=tag(-3)).submit()
xp
'''

NOT_SENT = re.compile(r"cannot send|kernel is (dead|disposed)|comm.*closed", re.I)


def test_a_restarted_kernel_leaves_inert_views(jupyterlab_server, lab_page, screenshot_dir, tmp_path):
    nb = jupyterlab_server.write_notebook("lifecycle/restart.ipynb", [
        cells_setup(tmp_path), RESTART_XP.format(workdir=str(tmp_path / "ws")), "held"])
    lab = lab_page
    ui = LabUI(lab)
    running = ".xpm-xp .xpm-jt-row[data-state='running']"
    try:
        lab.open(nb)
        ui.run_all()
        ui.wait_js(f"""() => document.querySelectorAll("{running}").length === 1
            && document.querySelectorAll(".xpm-xp .xpm-jt-row[data-state='done']").length === 1
            && document.querySelectorAll(".xpm-xp .xpm-jt-row[data-state='error']").length === 1
            && document.querySelector('.xpm-cv .xpm-cv-job .xpm-state-running')""")
        lab.wait_idle()
        # Live: the running job pulses, its duration moves, its buttons act.
        dot = f"{running} .xpm-dot"
        animation = f"() => getComputedStyle(document.querySelector(\"{dot}\")).animationName"
        assert lab.page.evaluate(animation) == "xpm-pulse"
        assert lab.page.locator(f"{running} button.xpm-cancel").is_enabled()
        assert lab.count(".xpm-inert") == 0
        duration = f"{running} .xpm-c-duration"
        first = lab.text(duration)
        ui.wait_js(f"(d) => document.querySelector(\"{duration}\").textContent !== d", arg=first)

        ui.restart_kernel()  # Kernel > Restart Kernel…, Restart
        console_before = len(lab.console)

        ui.wait_js("() => document.querySelector('.xpm-xp.xpm-inert') && document.querySelector('.xpm-cv.xpm-inert')")
        notes = [n for n in lab.query(".xpm-note") if n]
        assert len(notes) == 2 and all(n.startswith("kernel restarted: re-run this cell") for n in notes), notes
        assert lab.page.evaluate(animation) == "none"  # no pulsing "running"
        assert "not live" in lab.text(".xpm-xp-status")
        frozen = lab.text(duration)
        # Every action is disabled; clicks (even forced) send nothing.
        buttons = lab.page.locator(".xpm-xp .xpm-jt-row button, .xpm-cv-job button:not(.xpm-copy)")
        assert buttons.count() >= 4 and all(not b.is_enabled() for b in buttons.all())
        lab.page.locator(f"{running} button.xpm-cancel").click(force=True)
        lab.page.locator(".xpm-cv-job button.xpm-cv-cancel").click(force=True)
        lab.page.locator(".xpm-cv-job button", has_text="stderr").click(force=True)
        lab.page.locator(running).click()  # the job's details: shown, but no log to ask for
        detail = lab.wait_for(".xpm-jt-detail")
        assert [b.inner_text() for b in detail.locator("button:not(.xpm-copy)").all() if b.is_enabled()] == ["×"]
        assert "no kernel" in detail.locator(".xpm-log").inner_text()
        lab.page.wait_for_timeout(2500)  # durations would have ticked twice by now
        assert lab.text(duration) == frozen
        after = lab.console[console_before:]
        assert not [m for m in after if NOT_SENT.search(m)], after
        assert lab.page_errors == []
        shot(lab, screenshot_dir, "kernel-restarted")
    finally:
        open_gates(tmp_path, "held")


# --- C: what JupyterLab does with update_display_data (the option not taken) -----------

UPDATE_DISPLAY = [
    "from IPython.display import HTML, display, update_display\n"
    "display(HTML('<b class=\"xpm-upd\">first</b>'), display_id='xpm-upd')",
    "update_display(HTML('<b class=\"xpm-upd\">from a later cell</b>'), display_id='xpm-upd')",
    "import threading, time\n"
    "def later():\n"
    "    time.sleep(1.5)\n"
    "    update_display(HTML('<b class=\"xpm-upd\">from a thread</b>'), display_id='xpm-upd')\n"
    "threading.Thread(target=later, daemon=True).start()",
]


def test_update_display_reaches_an_earlier_cell_from_a_later_cell_and_a_thread(
        jupyterlab_server, lab_page):
    """The fact behind the evaluation of point C: JupyterLab applies an
    ``update_display_data`` to the cell that displayed it, sent from a later
    cell or from a thread after every cell ended (until that cell runs again or
    the kernel restarts)."""
    nb = jupyterlab_server.write_notebook("lifecycle/update_display.ipynb", UPDATE_DISPLAY)
    lab = lab_page
    ui = LabUI(lab)
    lab.open(nb)
    ui.run_all()
    lab.wait_for_text(".xpm-upd", "from a later cell")
    lab.wait_for_text(".xpm-upd", "from a thread")
    assert lab.count(".xpm-upd") == 1


# --- C: a saved notebook reopened by a new server shows its tables ---------------------

SAVED_XP = '''
xp = experiment({workdir!r}, "saved", launcher=DirectLauncher(max_jobs=4))
tasks = [Work.C(i=tag(i)).submit() for i in (1, 2, 3, -4)]
xp
'''


@pytest.fixture
def own_lab_parts():
    need(jupyterlab_available(), "jupyterlab is not installed (pip install jupyterlab)")
    need(chromium_available(), f"{CHROMIUM} missing (apt-get install chromium chromium-driver)")
    need(playwright_available(), "the Python playwright package is not installed")


def test_a_saved_notebook_reopens_with_its_tables(own_lab_parts, screenshot_dir, tmp_path):
    src = str(ROOT / "src")
    pp = os.environ.get("PYTHONPATH")
    env = {"PYTHONPATH": src + (os.pathsep + pp if pp else "")}
    root = tmp_path / "notebooks"
    root.mkdir()
    base = tmp_path / "jupyter"  # the user's Jupyter folders, the same for both servers
    server = fresh_lab(base, root, env)
    try:
        nb = server.write_notebook("saved.ipynb", [
            cells_setup(tmp_path), SAVED_XP.format(workdir=str(tmp_path / "ws")), "tasks[0]"])
        lab = LabPage(server, user_data_dir=tmp_path / "chromium-1")
        ui = LabUI(lab)
        try:
            lab.open(nb)
            ui.run_all()
            ui.wait_js("""() => document.querySelectorAll(".xpm-xp .xpm-jt-row[data-state='done']").length === 3
                && document.querySelectorAll(".xpm-xp .xpm-jt-row[data-state='error']").length === 1""")
            lab.wait_idle()
            ui.save()  # File > Save Notebook
        finally:
            lab.close()
    finally:
        server.stop()  # the session ends: no kernel, no widget model survives

    saved = json.loads(nb.read_text())
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    kinds = sorted(e["state"]["_anywidget_id"].rsplit(".", 1)[1] for e in state.values())
    assert kinds == ["ConfigView", "ExperimentView"]
    shown = {o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
             for c in saved["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})}
    assert shown == set(state)
    print(f"\nsaved notebook: {nb.stat().st_size / 1e3:.0f} kB, widget state "
          f"{len(json.dumps(saved['metadata']['widgets'])) / 1e3:.0f} kB")

    server = fresh_lab(base, root, env)  # a new JupyterLab, same user folders
    try:
        lab = LabPage(server, user_data_dir=tmp_path / "chromium-2")
        ui = LabUI(lab)
        try:
            ui.open_from_file_browser(nb)
            ui.wait_js(f"() => document.querySelectorAll(\"{ROWS}\").length === 4")
            states = lab.page.locator(ROWS).evaluate_all("(rows) => rows.map((r) => r.dataset.state)")
            assert sorted(states) == ["done", "done", "done", "error"]
            assert "negative: -4" in lab.page.locator(".xpm-xp .xpm-jt-row[data-state='error'] .xpm-state") \
                .get_attribute("title")
            lab.wait_for(".xpm-cv .xpm-cv-job .xpm-state-done")
            notes = [n for n in lab.query(".xpm-note") if n]
            assert len(notes) == 2 and all(n.startswith("saved view") for n in notes), notes
            assert lab.page.get_by_text("Error displaying widget").count() == 0
            assert lab.page.get_by_text("model not found").count() == 0
            assert all(not b.is_enabled() for b in lab.page.locator(".xpm-xp .xpm-jt-row button").all())
            assert lab.page_errors == []
            shot(lab, screenshot_dir, "reopened-notebook")
        finally:
            lab.close()
    finally:
        server.stop()
