"""Keyboard use, cancel confirmation, the task graph and the monitoring link, in
headless Chromium on a blank page with a fake model (issue 19).

Checked from the DOM: headers sort with Enter/Space and say so in
``aria-sort``; state chips toggle with Enter/Space; Enter on a row opens its
details; the focused row (or its cancel button) keeps the focus across live
patches; a cancel needs a second click ("confirm?") and sends nothing before;
a job's details list what it depends on and what needs it (clickable); the
experiment view's graph lays the jobs out in columns by dependency depth,
colours them by state, follows live states, collapses by task type at 200
jobs; the monitoring page's link gets its token from a message, not the state.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support.blankpage import blank_page, clean
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets.rows import JobTableState

WIDGET_TESTS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGET_TESTS) not in sys.path:
    sys.path.insert(0, str(WIDGET_TESTS))



@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from blank_page(tmp_path_factory.mktemp("chromium-keyboard"), ("job_table", "experiment_view"))


@pytest.fixture
def fresh(page):
    yield from clean(page, viewport={"width": 1280, "height": 900})


def graph_jobs(tmp_path, n: int = 4) -> list[Job]:
    """Job 0 (done); jobs 1.. depend on it; the last depends on job 1 too."""
    from widget_tasks import Fail

    from xpm_nb import tag

    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    jobs = [Job(Fail.C(code=tag(i)), workspace=workspace) for i in range(n)]
    states = [JobState.DONE, JobState.RUNNING, JobState.ERROR, JobState.WAITING]
    for i, job in enumerate(jobs):
        job.state = states[i] if i < len(states) else JobState.WAITING
        if i:
            job.dependencies = [jobs[0]]
    jobs[-1].dependencies = [jobs[0], jobs[1]]
    return jobs


def model_state(jobs, **extra) -> tuple[dict, JobTableState]:
    table = JobTableState(jobs)
    table.baseline()
    state = {"_xpm_id": "kb", "title": "t", "tag_names": table.tag_names, "metric_names": [],
             "counts": table.counts(), "snapshot": table.compact_snapshot(), "patch": {},
             "n_jobs": len(jobs), "name": "xp", "run_id": "r1", "workspace": "/ws", "status": "running",
             "services": [], "monitor_url": "", **extra}
    return state, table


RENDER = """async ([state, module]) => {
  const model = new FakeModel(state);
  const el = document.createElement('div');
  document.body.appendChild(el);
  const mod = window[module].default;
  mod.initialize({ model });
  mod.render({ model, el });
  await new Promise((r) => setTimeout(r, 60));
  window.current = { model, el };
}"""

FOCUS = "() => { const a = document.activeElement; return a && a.dataset ? (a.dataset.focus || a.tagName) : null; }"


def focus_is(page, expected: str, timeout: float = 10_000) -> None:
    """The focus reaches ``expected`` (a re-render may still be on its way on a loaded
    machine); an AssertionError naming where it is otherwise."""
    try:
        page.wait_for_function(f"e => ({FOCUS})() === e", arg=expected, timeout=timeout)
    except Exception:  # noqa: BLE001 - reported as the assertion below
        pass
    assert page.evaluate(FOCUS) == expected
ORDER = """() => [...window.current.el.querySelectorAll('.xpm-jt-row')].filter((r) => r.style.display !== 'none')
  .map((r) => [parseFloat(r.style.transform.replace('translateY(', '')), Number(r.dataset.k)])
  .sort((a, b) => a[0] - b[0]).map((x) => x[1])"""


def send_patch(page, table, jobs_changed) -> None:
    for job in jobs_changed:
        table.mark(job)
    patch = table.patch()
    page.evaluate("(p) => window.current.model.change('patch', p)", patch)
    page.wait_for_timeout(80)


def test_keyboard_sort_filter_open_and_focus_kept(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, table = model_state(jobs)
    fresh.evaluate(RENDER, [state, "job_table"])
    head = ".xpm-jt-head [data-col='state']"
    assert fresh.get_attribute(head, "tabindex") == "0"
    assert fresh.get_attribute(head, "aria-sort") == "none"
    fresh.focus(head)
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(80)
    # Re-rendered header: the focus stays on it, and it says how it sorts.
    focus_is(fresh, "head:state")
    assert fresh.get_attribute(head, "aria-sort") == "ascending"
    assert fresh.evaluate(ORDER) == [3, 1, 0, 2]  # waiting, running, done, error
    fresh.keyboard.press(" ")
    fresh.wait_for_timeout(80)
    assert fresh.get_attribute(head, "aria-sort") == "descending"
    assert fresh.evaluate(ORDER) == [2, 0, 1, 3]
    fresh.keyboard.press("Enter")  # third: submission order
    fresh.wait_for_timeout(80)
    assert fresh.evaluate(ORDER) == [0, 1, 2, 3]

    # A state chip: Enter filters, Space shows all again; the focus stays on the chip.
    chip = ".xpm-jt-chips [data-state='error']"
    fresh.focus(chip)
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(80)
    assert fresh.evaluate(ORDER) == [2]
    assert fresh.get_attribute(chip, "aria-pressed") == "true"
    focus_is(fresh, "chip:error")
    fresh.keyboard.press(" ")
    fresh.wait_for_timeout(80)
    assert fresh.evaluate(ORDER) == [0, 1, 2, 3]

    # Enter on a row opens its details.
    fresh.focus(".xpm-jt-row[data-k='1']")
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(80)
    assert fresh.is_visible(".xpm-jt-detail")
    assert jobs[1].identifier[:12] in fresh.inner_text(".xpm-jt-detail")
    focus_is(fresh, "row:1")
    # Arrow down: the next row.
    fresh.keyboard.press("ArrowDown")
    fresh.wait_for_timeout(80)
    focus_is(fresh, "row:2")
    fresh.keyboard.press("ArrowUp")
    fresh.wait_for_timeout(80)
    focus_is(fresh, "row:1")

    # Live updates keep the focus where it is: on the row...
    jobs[1].progress = [{"progress": 0.5, "desc": "x"}]
    send_patch(fresh, table, [jobs[1]])
    jobs[3].state = JobState.RUNNING
    send_patch(fresh, table, [jobs[3]])
    focus_is(fresh, "row:1")
    # ...even when the sort moves the row to another place.
    fresh.click(".xpm-jt-head [data-col='state']")
    # The sorted rows first: Playwright finds the row, then focuses it, and a frame
    # between the two would give the found (pooled) element another job.
    fresh.wait_for_function(f"() => JSON.stringify(({ORDER})()) === '[1,3,0,2]'")
    fresh.focus(".xpm-jt-row[data-k='1']")
    jobs[1].state = JobState.DONE
    send_patch(fresh, table, [jobs[1]])
    focus_is(fresh, "row:1")
    # ...and on a row's cancel button.
    fresh.focus(".xpm-jt-row[data-k='3'] button.xpm-cancel")
    jobs[3].progress = [{"progress": 0.2, "desc": None}]
    send_patch(fresh, table, [jobs[3]])
    focus_is(fresh, "row:3:cancel")
    # ...and on a chip, whose counts change.
    fresh.focus(".xpm-jt-chips [data-state='done']")
    jobs[3].state = JobState.DONE
    send_patch(fresh, table, [jobs[3]])
    focus_is(fresh, "chip:done")


def test_cancel_asks_for_a_confirmation(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, _ = model_state(jobs)
    fresh.evaluate(RENDER, [state, "job_table"])
    fresh.evaluate("() => { window.dialogs = 0; window.confirm = () => { window.dialogs++; return true; }; }")
    button = ".xpm-jt-row[data-k='1'] button.xpm-cancel"
    fresh.click(button)
    fresh.wait_for_timeout(60)
    sent = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'cancel')")
    assert sent == []
    assert fresh.inner_text(button) == "confirm?"
    assert "xpm-confirming" in fresh.get_attribute(button, "class")
    fresh.click(button)
    fresh.wait_for_timeout(60)
    sent = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'cancel')")
    assert sent == [{"type": "cancel", "k": 1}]
    assert fresh.evaluate("() => window.dialogs") == 0  # never a browser dialog
    # Not confirmed in time: back to the plain button, nothing sent (keyboard this time).
    fresh.focus(".xpm-jt-row[data-k='3'] button.xpm-cancel")
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(60)
    assert fresh.inner_text(".xpm-jt-row[data-k='3'] button.xpm-cancel") == "confirm?"
    focus_is(fresh, "row:3:cancel")
    fresh.wait_for_timeout(4300)
    assert fresh.inner_text(".xpm-jt-row[data-k='3'] button.xpm-cancel") == "✕"
    sent = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'cancel')")
    assert sent == [{"type": "cancel", "k": 1}]
    # The details' cancel asks too.
    fresh.click(".xpm-jt-row[data-k='3'] .xpm-c-task")
    fresh.click(".xpm-jt-detail button.xpm-detail-cancel")
    fresh.wait_for_timeout(60)
    assert fresh.inner_text(".xpm-jt-detail button.xpm-detail-cancel") == "confirm?"
    fresh.click(".xpm-jt-detail button.xpm-detail-cancel")
    fresh.wait_for_timeout(60)
    sent = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'cancel')")
    assert sent[-1] == {"type": "cancel", "k": 3}


def test_details_list_dependencies_both_ways(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, _ = model_state(jobs)
    fresh.evaluate(RENDER, [state, "job_table"])
    fresh.click(".xpm-jt-row[data-k='3'] .xpm-c-task")
    fresh.wait_for_timeout(60)
    deps = fresh.evaluate("() => [...document.querySelectorAll('.xpm-jt-detail .xpm-deps .xpm-dep-link')].map((b) => Number(b.dataset.k))")
    assert deps == [0, 1]
    assert fresh.evaluate("() => document.querySelectorAll('.xpm-jt-detail .xpm-needed').length") == 0
    assert "depends on" in fresh.inner_text(".xpm-jt-detail .xpm-kv")
    # A click opens that job; job 0 is needed by every other.
    fresh.click(".xpm-jt-detail .xpm-deps .xpm-dep-link[data-k='0']")
    fresh.wait_for_timeout(60)
    assert jobs[0].identifier[:12] in fresh.inner_text(".xpm-jt-detail")
    needed = fresh.evaluate("() => [...document.querySelectorAll('.xpm-jt-detail .xpm-needed .xpm-dep-link')].map((b) => Number(b.dataset.k))")
    assert needed == [1, 2, 3]
    assert "needed by" in fresh.inner_text(".xpm-jt-detail .xpm-kv")


NODES = """() => [...document.querySelectorAll('.xpm-dag-node')].map((g) => ({
  k: g.dataset.k === undefined ? null : Number(g.dataset.k), group: g.dataset.group || null,
  n: Number(g.dataset.n), layer: Number(g.dataset.layer), state: g.dataset.state,
  fill: g.querySelector('rect').getAttribute('fill'),
  x: g.transform.baseVal[0].matrix.e, y: g.transform.baseVal[0].matrix.f }))"""


def test_graph_view_layers_colours_and_live_states(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, table = model_state(jobs)
    fresh.evaluate(RENDER, [state, "experiment_view"])
    assert fresh.evaluate("() => document.querySelectorAll('.xpm-dag-node').length") == 0  # not before asked
    fresh.click(".xpm-xp button.xpm-xp-graph-toggle")
    fresh.wait_for_timeout(100)
    nodes = {n["k"]: n for n in fresh.evaluate(NODES)}
    assert set(nodes) == {0, 1, 2, 3}
    assert [nodes[k]["layer"] for k in range(4)] == [0, 1, 1, 2]  # longest path: 3 needs 1
    assert nodes[0]["x"] < nodes[1]["x"] == nodes[2]["x"] < nodes[3]["x"]
    assert [nodes[k]["state"] for k in range(4)] == ["done", "running", "error", "waiting"]
    assert len({nodes[k]["fill"] for k in range(4)}) == 4
    assert fresh.evaluate("() => document.querySelectorAll('.xpm-dag-edge').length") == 4
    # Live: a state change recolours the node.
    before = nodes[3]["fill"]
    jobs[3].state = JobState.RUNNING
    send_patch(fresh, table, [jobs[3]])
    fresh.wait_for_timeout(250)
    after = {n["k"]: n for n in fresh.evaluate(NODES)}[3]
    assert after["state"] == "running" and after["fill"] != before and after["fill"] == nodes[1]["fill"]
    # Keyboard: Enter on a node opens the job's details in the table.
    fresh.focus(".xpm-dag-node[data-k='2']")
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(80)
    assert jobs[2].identifier[:12] in fresh.inner_text(".xpm-jt-detail")


def test_graph_of_200_jobs_collapses_by_task(fresh, tmp_path):
    from widget_tasks import Fail, Steps

    from xpm_nb import tag

    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    prep = [Job(Fail.C(code=tag(i)), workspace=workspace) for i in range(100)]
    from widget_tasks import Model

    train = [Job(Steps.C(model=Model.C(hidden=tag(i))), workspace=workspace) for i in range(100)]
    for i, job in enumerate(train):
        job.dependencies = [prep[i]]
        job.state = JobState.RUNNING if i < 10 else JobState.WAITING
    for i, job in enumerate(prep):
        job.state = JobState.DONE if i < 90 else JobState.RUNNING
    state, table = model_state(prep + train)
    fresh.evaluate(RENDER, [state, "experiment_view"])
    fresh.click(".xpm-xp button.xpm-xp-graph-toggle")
    fresh.wait_for_timeout(150)
    nodes = fresh.evaluate(NODES)
    assert len(nodes) == 2 and sorted(n["n"] for n in nodes) == [100, 100]
    assert fresh.evaluate("() => document.querySelector('.xpm-dag-collapse').checked")
    assert fresh.evaluate("() => document.querySelectorAll('.xpm-dag-edge').length") == 1
    # The group of the running ones shows running; its bar has one part per state.
    prep_node = next(n for n in nodes if n["layer"] == 0)
    assert prep_node["state"] == "running"
    bars = fresh.evaluate("() => [...document.querySelectorAll('.xpm-dag-node[data-layer=\"0\"] .xpm-dag-bar rect[data-state]')].map((r) => r.dataset.state)")
    assert bars == ["done", "running"]
    from infra.browser_fixtures import SCREENSHOT_DIR

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    fresh.locator(".xpm-xp-graph").screenshot(path=str(SCREENSHOT_DIR / "issue19-graph-200-collapsed.png"))
    # Enter expands a group: 100 nodes in the first column, the graph box scrolls.
    fresh.focus(".xpm-dag-node[data-layer='0']")
    fresh.keyboard.press("Enter")
    fresh.wait_for_timeout(100)
    nodes = fresh.evaluate(NODES)
    assert len(nodes) == 101
    focus_is(fresh, "node:k:0")
    scroll = fresh.evaluate("() => { const s = document.querySelector('.xpm-dag-scroll'); return [s.scrollHeight, s.clientHeight]; }")
    assert scroll[0] > scroll[1] and scroll[1] <= 470
    fresh.locator(".xpm-xp-graph").screenshot(path=str(SCREENSHOT_DIR / "issue19-graph-200-expanded.png"))
    # Unchecking "collapse" shows every job.
    fresh.click(".xpm-dag-collapse")
    fresh.wait_for_timeout(100)
    assert len(fresh.evaluate(NODES)) == 200


def test_monitoring_link_gets_its_token_by_message(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, _ = model_state(jobs, monitor_url="http://127.0.0.1:5555/")
    fresh.evaluate(RENDER, [state, "experiment_view"])
    link = ".xpm-xp a.xpm-xp-monitor"
    assert fresh.get_attribute(link, "href") == "http://127.0.0.1:5555/"
    asked = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'monitor_url')")
    assert asked == [{"type": "monitor_url"}]
    fresh.evaluate("() => window.current.model.trigger('msg:custom', {type: 'monitor_url', url: 'http://127.0.0.1:5555/?token=abc'})")
    assert fresh.get_attribute(link, "href") == "http://127.0.0.1:5555/?token=abc"
    # Never a javascript: link.
    fresh.evaluate("() => window.current.model.trigger('msg:custom', {type: 'monitor_url', url: 'javascript:alert(1)'})")
    assert fresh.get_attribute(link, "href") == "http://127.0.0.1:5555/?token=abc"
    # No server: no link.
    fresh.evaluate("() => { document.body.innerHTML = ''; delete globalThis[Symbol.for('xpm_nb.views')]; }")
    state, _ = model_state(jobs)
    fresh.evaluate(RENDER, [state, "experiment_view"])
    assert fresh.evaluate("() => document.querySelectorAll('a.xpm-xp-monitor').length") == 0


def test_compare_ticked_jobs(fresh, tmp_path):
    from xpm_nb.scheduler.follow import metrics_log
    from xpm_nb.widgets.compare import compare_jobs

    jobs = graph_jobs(tmp_path)
    for i, job in enumerate(jobs[:3]):
        metrics_log(job).apply(job, {"event_type": "JobMetricsEvent", "step": 5 + i,
                                     "metrics": {"loss": 0.5 - 0.1 * i}, "timestamp": 100.0}, 0)
    state, table = model_state(jobs)
    state["metric_names"] = table.metric_names
    fresh.evaluate(RENDER, [state, "job_table"])
    assert not fresh.is_visible(".xpm-jt-compare")
    fresh.click(".xpm-jt-row[data-k='0'] input.xpm-pick")
    fresh.wait_for_timeout(60)
    assert fresh.inner_text(".xpm-jt-compare") == "compare 1" and fresh.is_disabled(".xpm-jt-compare")
    assert not fresh.is_visible(".xpm-jt-detail")  # ticking does not open the row
    # Keyboard: Space on a focused checkbox ticks it.
    fresh.focus(".xpm-jt-row[data-k='2'] input.xpm-pick")
    fresh.keyboard.press(" ")
    fresh.wait_for_timeout(60)
    assert fresh.inner_text(".xpm-jt-compare") == "compare 2"
    fresh.click(".xpm-jt-compare")
    fresh.wait_for_timeout(60)
    sent = fresh.evaluate("() => window.current.model.sent.filter((m) => m.type === 'compare')")
    assert sent == [{"type": "compare", "keys": [0, 2]}]
    assert "asking the kernel" in fresh.inner_text(".xpm-cmp")
    reply = table.handle(sent[0])
    assert reply == {"type": "compare", "keys": [0, 2], **compare_jobs([jobs[0], jobs[2]])}
    fresh.evaluate("(m) => window.current.model.trigger('msg:custom', m)", reply)
    fresh.wait_for_timeout(60)
    rows = fresh.evaluate("""() => [...document.querySelectorAll('.xpm-cmp-table tr')].map((tr) =>
        [...tr.children].map((td) => td.textContent))""")
    assert ["code", "0", "2"] in rows
    assert ["loss", "0.5", "0.3"] in rows and ["step", "5", "7"] in rows
    heads = fresh.evaluate("() => [...document.querySelectorAll('.xpm-cmp-table th button')].map((b) => Number(b.dataset.k))")
    assert heads == [0, 2]
    # Close: the ticks go too.
    fresh.click(".xpm-cmp button.xpm-cmp-close")
    fresh.wait_for_timeout(60)
    assert not fresh.is_visible(".xpm-cmp") and not fresh.is_visible(".xpm-jt-compare")
    assert fresh.evaluate("() => document.querySelectorAll('input.xpm-pick:checked').length") == 0


def test_experiment_header_keeps_the_focus(fresh, tmp_path):
    jobs = graph_jobs(tmp_path)
    state, _ = model_state(jobs)
    fresh.evaluate(RENDER, [state, "experiment_view"])
    fresh.focus(".xpm-xp button.xpm-xp-graph-toggle")
    fresh.evaluate("() => window.current.model.change('status', 'closed')")  # the header is rebuilt
    fresh.wait_for_timeout(60)
    focus_is(fresh, "xp:graph")
    fresh.keyboard.press("Enter")  # a button: opens the graph
    fresh.wait_for_timeout(100)
    assert fresh.evaluate("() => document.querySelectorAll('.xpm-dag-node').length") == 4


def test_header_without_run_workspace_nor_monitor_shows_no_placeholder(fresh, tmp_path):
    """Parts of the experiment view's header that are absent leave nothing behind
    (no "null" text where the monitoring link or the copy button would be)."""
    state, _ = model_state(graph_jobs(tmp_path), run_id="", workspace="", monitor_url="")
    fresh.evaluate(RENDER, [state, "experiment_view"])
    head = fresh.inner_text(".xpm-xp-head")
    assert "null" not in head and "undefined" not in head, head
    assert head.split() == ["experiment", "xp", "running", "curves", "graph"], head
