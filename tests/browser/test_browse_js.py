"""The workspace browser's view (js/browse.js) in headless Chromium on a blank page.

The kernel side is a real :class:`~xpm_nb.widgets.browse.WorkspaceBrowser` on a
workspace written by two runs of an xpm_nb experiment (another process): what
the page sends goes to the widget, what the widget sends (state changes and
custom messages) comes back to the page's fake model. Checked from the DOM:
the experiments and runs as buttons with ``aria-expanded``/``aria-controls``,
Enter and the arrows, a run opened in the job table (rows from the folders),
Escape back to the list with the focus on that run, the task graph of a run
(its rows' deps; Enter on a node opens its details), answers for a run no
longer shown dropped, an error shown in an alert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import comm
import pytest
from comm.base_comm import BaseComm

import xpm_nb
from support.blankpage import blank_page, clean
from xpm_nb.widgets.browse import WorkspaceBrowser

WIDGET_TESTS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGET_TESTS) not in sys.path:
    sys.path.insert(0, str(WIDGET_TESTS))

KEYS = ("workspace", "experiments", "run", "error", "_xpm_id")
FOCUS = "() => { const a = document.activeElement; return a && a.dataset ? (a.dataset.focus || a.tagName) : null; }"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from blank_page(tmp_path_factory.mktemp("chromium-browse"), ("browse",))


@pytest.fixture
def fresh(page):
    yield from clean(page, viewport={"width": 1100, "height": 900})


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    from test_browse import DRIVER, TASKS

    folder = tmp_path_factory.mktemp("browse-js")
    (folder / "bwtasks.py").write_text(TASKS)
    (folder / "driver.py").write_text(DRIVER)
    ws = folder / "ws"
    env = {**os.environ, "XPM_INTEROP_PKG": "xpm_nb",
           "PYTHONPATH": os.pathsep.join([str(folder), str(Path(xpm_nb.__file__).parents[1])])}
    for rates in ("0.5", "0.5,0.1"):
        subprocess.run([sys.executable, str(folder / "driver.py"), str(ws), "train", rates],
                       env=env, cwd=folder, check=True, capture_output=True, timeout=240)
        time.sleep(1.1)  # run ids are to the second
    return ws


class Recording(BaseComm):
    def __init__(self, *args, **kwargs):
        self.out: list[tuple[str, dict]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.out.append((msg_type, data or {}))


@pytest.fixture
def bridge(fresh, workspace, monkeypatch):
    """``(widget, pump)``: ``pump()`` delivers the page's requests and brings the answers back."""
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: Recording(*a, **k))
    widget = WorkspaceBrowser(workspace)
    state = json.loads(json.dumps({k: getattr(widget, k) for k in KEYS}))
    fresh.evaluate("""(state) => { window.m = new FakeModel(state); const el = document.createElement('div');
        document.body.appendChild(el); window.browse.default.render({ model: window.m, el }); }""", state)

    def pump(rounds: int = 6) -> None:
        for _ in range(rounds):
            fresh.wait_for_timeout(60)
            sent = fresh.evaluate("() => { const s = window.m.sent; window.m.sent = []; return s; }")
            if not sent:
                return
            for message in sent:
                widget.comm.out.clear()
                widget.comm.handle_msg({"content": {"comm_id": widget.comm.comm_id,
                                                    "data": {"method": "custom", "content": message}},
                                        "buffers": []})
                for _, data in list(widget.comm.out):
                    if data.get("method") == "custom":
                        fresh.evaluate("(c) => window.m.trigger('msg:custom', c)", data["content"])
                    elif data.get("method") == "update":
                        for key, value in data["state"].items():
                            if key in KEYS:
                                fresh.evaluate("([k, v]) => window.m.change(k, v)", [key, value])

    yield widget, pump
    widget.close()


def test_list_keyboard_open_run_and_back(fresh, bridge):
    widget, pump = bridge
    xp = ".xpm-br button.xpm-br-xp"
    assert fresh.locator(xp).count() == 1
    assert "2 runs" in fresh.inner_text(xp) and "3 done" in fresh.inner_text(xp)  # the current run
    assert fresh.get_attribute(xp, "aria-expanded") == "false"
    fresh.focus(xp)
    fresh.keyboard.press("Enter")
    assert fresh.get_attribute(xp, "aria-expanded") == "true"
    runs_id = fresh.get_attribute(xp, "aria-controls")
    assert fresh.locator(f"#{runs_id} button.xpm-br-run").count() == 2
    assert fresh.evaluate(FOCUS) == "xp:train"
    fresh.keyboard.press("ArrowDown")  # the newest run first
    newest = widget.experiments[0]["runs"][0]["run_id"]
    assert fresh.evaluate(FOCUS) == f"run:train/{newest}"
    fresh.keyboard.press("Enter")
    pump()
    assert widget.run["run_id"] == newest
    fresh.wait_for_function("() => document.querySelectorAll(\".xpm-br .xpm-jt-row[data-state='done']\").length === 3")
    assert fresh.evaluate(FOCUS) == "br:back"
    assert "3 jobs" in fresh.inner_text(".xpm-br .xpm-br-summary")
    assert fresh.inner_text(".xpm-br .xpm-br-run-id") == newest
    # A row's details: its configuration follows under the table.
    fresh.focus(".xpm-br .xpm-jt-row[data-k='1']")
    fresh.keyboard.press("Enter")
    pump()
    fresh.wait_for_selector(".xpm-br .xpm-br-config .xpm-cv")
    assert fresh.inner_text(".xpm-br .xpm-br-config .xpm-cv-cls") == "Learn"
    # Escape: the list again, the focus on the run opened.
    fresh.focus(".xpm-br button.xpm-br-back")
    fresh.keyboard.press("Escape")
    pump()
    assert widget.run == {}
    fresh.wait_for_selector(".xpm-br button.xpm-br-run")
    assert fresh.evaluate(FOCUS) == f"run:train/{newest}"
    assert fresh.errors == []


def test_answers_of_another_run_are_dropped_and_errors_shown(fresh, bridge):
    widget, pump = bridge
    fresh.click(".xpm-br button.xpm-br-xp")
    fresh.click(".xpm-br button.xpm-br-run >> nth=1")  # the older run: 2 jobs
    pump()
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-jt-row').length === 2")
    old_gen = widget.run["gen"]
    fresh.click(".xpm-br button.xpm-br-refresh")  # read again: a new generation
    pump()
    assert widget.run["gen"] == old_gen + 1
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-jt-row').length === 2")
    # A late answer for the run shown before holds no row: dropped.
    fresh.evaluate("""(gen) => window.m.trigger('msg:custom', { type: 'snapshot', gen, rows: [], tag_names: [],
        metric_names: [], seq: 99, now: Date.now() / 1000 })""", old_gen)
    fresh.wait_for_timeout(150)
    assert fresh.locator(".xpm-br .xpm-jt-row").count() == 2
    # An error from the kernel is shown in an alert.
    fresh.evaluate("() => window.m.send({ type: 'open', experiment: 'nope' })")
    pump()
    alert = fresh.inner_text(".xpm-br [role='alert']")
    assert "no experiment 'nope'" in alert and "Fix" in alert
    assert fresh.errors == []


NODE_KEYS = "() => [...document.querySelectorAll('.xpm-br .xpm-dag-node')].map((g) => Number(g.dataset.k)).sort()"
ROW_KEYS = "() => [...document.querySelectorAll('.xpm-br .xpm-jt-row')].map((r) => Number(r.dataset.k)).sort()"


def test_graph_of_the_run_opened(fresh, bridge):
    """"graph": the task graph of the run's rows (their deps); Enter on a node opens its details."""
    widget, pump = bridge
    fresh.click(".xpm-br button.xpm-br-xp")
    fresh.click(".xpm-br button.xpm-br-run >> nth=0")  # the newest run: Prep and two Learn on it
    pump()
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-jt-row').length === 3")
    assert fresh.locator(".xpm-br .xpm-dag-node").count() == 0  # not before asked
    fresh.click(".xpm-br button.xpm-br-graph-toggle")
    assert fresh.get_attribute(".xpm-br button.xpm-br-graph-toggle", "aria-pressed") == "true"
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-dag-node').length === 3")
    assert fresh.evaluate(NODE_KEYS) == fresh.evaluate(ROW_KEYS)
    assert fresh.locator(".xpm-br .xpm-dag-edge").count() == 2  # Prep -> each Learn
    learn = fresh.evaluate("""() => [...document.querySelectorAll('.xpm-br .xpm-dag-node')]
        .find((g) => g.dataset.layer === '1').dataset.k""")
    fresh.focus(f".xpm-br .xpm-dag-node[data-k='{learn}']")
    fresh.keyboard.press("Enter")
    pump()
    fresh.wait_for_selector(".xpm-br .xpm-br-config .xpm-cv")
    assert fresh.is_visible(".xpm-br .xpm-jt-detail")
    assert fresh.get_attribute(f".xpm-br .xpm-jt-row[data-k='{learn}']", "aria-selected") == "true"
    assert fresh.inner_text(".xpm-br .xpm-br-config .xpm-cv-cls") == "Learn"
    # Another run: its own graph (closed until asked), on its own rows.
    fresh.click(".xpm-br button.xpm-br-back")
    pump()
    fresh.click(".xpm-br button.xpm-br-run >> nth=1")  # the older run: Prep and one Learn
    pump()
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-jt-row').length === 2")
    assert fresh.locator(".xpm-br .xpm-dag-node").count() == 0
    fresh.click(".xpm-br button.xpm-br-graph-toggle")
    fresh.wait_for_function("() => document.querySelectorAll('.xpm-br .xpm-dag-node').length === 2")
    assert fresh.evaluate(NODE_KEYS) == fresh.evaluate(ROW_KEYS)
    assert fresh.locator(".xpm-br .xpm-dag-edge").count() == 1
    fresh.click(".xpm-br button.xpm-br-graph-toggle")  # closed again
    assert not fresh.is_visible(".xpm-br .xpm-br-graph")
    assert fresh.errors == []


def test_without_a_kernel_the_list_only(fresh, workspace, monkeypatch):
    """A saved copy of the view (no kernel): the list as last seen, a note, nothing sent."""
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: Recording(*a, **k))
    widget = WorkspaceBrowser(workspace)
    widget.open_run("train")
    state = json.loads(json.dumps({k: getattr(widget, k) for k in KEYS}))
    fresh.evaluate("""(state) => { window.m = new FakeModel(state);
        const holder = document.createElement('div'); holder.className = 'jupyter-widgets-disconnected';
        const el = document.createElement('div'); holder.appendChild(el); document.body.appendChild(holder);
        window.browse.default.render({ model: window.m, el }); }""", state)
    assert fresh.locator(".xpm-br .xpm-jt").count() == 0  # the run needs a kernel to be read
    assert "no kernel" in fresh.inner_text(".xpm-br .xpm-inert-note")
    fresh.click(".xpm-br button.xpm-br-xp")
    fresh.click(".xpm-br button.xpm-br-run >> nth=0")
    fresh.click(".xpm-br button.xpm-br-refresh")
    assert fresh.evaluate("() => window.m.sent") == []
    assert fresh.errors == []
    widget.close()
