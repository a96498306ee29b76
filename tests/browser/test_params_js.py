"""The parameters panel, and the progress a stopped job keeps, in headless Chromium on a
blank page with a fake model.

- the page's points (``paramPoints``, js/params_chart.js) are the kernel's
  (``parameter_points``, xpm_nb.widgets.params) for the same runs: numeric and
  categorical tags, last / min / max, best values exact past thinning;
- the panel draws one point per run, follows live patches (a new run, a new
  last value), shows the run's tags on hover, writes its settings to the model;
- in the experiment view a point's click opens its run's row in the table;
- the points are keyboard-usable: focusable, named, Enter/Space select the run, the
  focus stays on the run's point across live redraws;
- a failed or cancelled job's progress cell tells how far it got;
- the static HTML formats metric values as the live table does.
"""

from __future__ import annotations

import pytest

from support import chartpage as chart
from support.blankpage import blank_page, clean
from xpm_nb.scheduler.follow import metrics_log
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.widgets.metrics import MAX_POINTS, CurveState
from xpm_nb.widgets.params import parameter_points
from xpm_nb.widgets.rows import JobTableState
from xpm_nb.widgets.static import format_metric


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from blank_page(tmp_path_factory.mktemp("chromium-params"),
                          ("params_chart", "metrics_view", "experiment_view", "job_table", "metrics"))


@pytest.fixture
def fresh(page):
    yield from clean(page, viewport=chart.VIEWPORT)


TAGS = [{"lr": 0.001, "opt": "sgd", "layers": 2}, {"lr": 0.01, "opt": "adam", "layers": 10},
        {"lr": 0.1, "opt": "sgd"}, {"lr": 1.0, "opt": True, "layers": 2}]


def grid(tmp_path, tags=TAGS) -> tuple[CurveState, list[Job]]:
    """Runs with these tags, each with a loss curve (the third one long: thinned)."""
    jobs = chart.fail_jobs(tmp_path, range(len(tags)))
    state = CurveState()
    for i, (job, t) in enumerate(zip(jobs, tags)):
        job.tags = dict(t)
        state.add(job)
        state.set_history(job, (1, 0.0, {}))
        n = 3 * MAX_POINTS if i == 2 else 4
        for step in range(n):
            y = -7.0 if (i == 2 and step == 2 * MAX_POINTS + 1) else 1.0 / (1 + step) + i
            state.add_event(job, 1, step, 1.0 + step, {"loss": y})
    state.baseline()
    return state, jobs


POINTS = """([snapshot, x, best, color]) => {
  const { CurveStore } = window.metrics_view;
  const { paramPoints } = window.params_chart;
  const store = new CurveStore();
  store.snapshot(snapshot);
  const data = paramPoints([...store.runs.values()], (k) => store.curves.get(k)?.get('loss'),
    (k) => store.extremes.get(k)?.get('loss'), { x, best, color });
  return { kind: data.kind, logX: data.logX, categories: data.categories,
           points: data.points.map((p) => [p.k, p.x, p.y, p.color]) };
}"""


@pytest.mark.parametrize(("x", "best", "color"), [("lr", "last", "opt"), ("lr", "min", ""), ("opt", "max", "layers"),
                                                  ("layers", "last", "lr")])
def test_the_pages_points_are_the_kernels(fresh, tmp_path, x, best, color):
    state, _ = grid(tmp_path)
    assert len(state.snapshot()["curves"]["2"]["loss"][1]) <= MAX_POINTS  # thinned: -7 is gone
    page = fresh.evaluate(POINTS, [state.snapshot(), x, best, color])
    kernel = parameter_points(state, "loss", x, best, color)
    assert page["kind"] == kernel["kind"] and page["logX"] == kernel["log_x"]
    assert page["categories"] == kernel["categories"]
    assert page["points"] == [[p["k"], p["x"], p["y"], p["color"]] for p in kernel["points"]]
    if best == "min":
        assert page["points"][2][2] == -7.0  # exact, though the curve the page holds lost it


def test_extremes_follow_appended_points_and_whole_curves(fresh):
    out = fresh.evaluate("""() => {
      const { CurveStore } = window.metrics_view;
      const store = new CurveStore();
      store.snapshot({ type: 'snapshot', seq: 0, metric_names: ['loss'], runs: [{ k: 0, tags: {} }],
                       curves: { 0: { loss: [[0, 1], [3, 2]] } }, extremes: { 0: { loss: [-1, 9] } } });
      const a = store.extremes.get(0).get('loss').slice();
      store.patch({ type: 'patch', seq: 1, append: { 0: { loss: [[2, 3], [12, -4]] } } });
      const b = store.extremes.get(0).get('loss').slice();
      store.patch({ type: 'patch', seq: 2, set: { 0: { loss: [[0], [5]] } } });  // a new attempt
      const c = store.extremes.get(0).get('loss').slice();
      return { a, b, c, saved: store.toSnapshot().extremes };
    }""")
    assert out == {"a": [-1, 9], "b": [-4, 12], "c": [5, 5], "saved": {"0": {"loss": [5, 5]}}}


def test_the_panel_draws_a_point_per_run_live(fresh, tmp_path):
    state, jobs = grid(tmp_path, TAGS[:3])
    model = {"_xpm_id": "pv", "title": "grid", "tag_names": ["lr", "opt", "layers"], "snapshot": state.snapshot(),
             "patch": {}, "color_by": "opt", "group_by": "", "log_scale": False, "smoothing": 0.0,
             "panel": "parameters", "param_metric": "", "param_x": "lr", "param_best": "last"}
    chart.render(fresh, "metrics_view", model, width=560)
    assert fresh.is_visible(".xpm-pc-chart") and not fresh.is_visible(".xpm-mc-charts")
    dots = chart.dots(fresh)
    assert [d["k"] for d in dots] == [0, 1, 2]
    # lr on a log scale (0.001 to 0.1): evenly spaced; higher loss is higher up (smaller y).
    assert dots[1]["cx"] - dots[0]["cx"] == pytest.approx(dots[2]["cx"] - dots[1]["cx"], abs=0.2)
    assert dots[0]["cy"] > dots[1]["cy"] > dots[2]["cy"]
    assert dots[0]["fill"] == dots[2]["fill"] != dots[1]["fill"]  # coloured by opt
    assert fresh.get_attribute(".xpm-pc-chart svg", "data-kind") == "numeric"
    assert "lr (log scale)" in fresh.inner_text(".xpm-pc-chart")
    # Live: a new run joins, the first one's last value drops: coalesced redraws follow.
    late = chart.fail_job(jobs[0].workspace, 9)
    late.tags = {"lr": 1.0, "opt": "adam"}
    state.add(late)
    state.set_history(late, (1, 0.0, {"loss": ([0], [0.5])}))
    state.add_event(jobs[0], 1, 10, 50.0, {"loss": -3.0})
    chart.message(fresh, state.patch(), settle=400)
    after = chart.dots(fresh)
    assert [d["k"] for d in after] == [0, 1, 2, 3]
    assert after[0]["cy"] > max(d["cy"] for d in after[1:])  # the lowest value now
    # Hover: the run's tags and value.
    fresh.hover(".xpm-pc-chart circle[data-k='1']")
    hover = fresh.inner_text(".xpm-mc-hover")
    assert "lr=0.01" in hover and "opt=adam" in hover and "last loss = 1.25" in hover
    # The settings: the best value, the x tag (categorical: a strip), the panel.
    fresh.select_option(".xpm-pc-best", "min")
    fresh.select_option(".xpm-pc-x", "opt")
    fresh.wait_for_timeout(400)
    assert fresh.evaluate("() => [window.current.model.get('param_best'), window.current.model.get('param_x')]") == [
        "min", "opt"]
    assert fresh.get_attribute(".xpm-pc-chart svg", "data-kind") == "categorical"
    strip = chart.dots(fresh)
    labels = fresh.evaluate("() => [...document.querySelectorAll('.xpm-pc-chart .xpm-mc-axis text')].map((t) => t.textContent)")
    assert "adam" in labels and "sgd" in labels
    # adam (k 1 and 3) in the first column, sgd (k 0 and 2) in the second.
    first = {d["k"] for d in strip if d["cx"] < 300}
    assert first == {1, 3}
    fresh.click(".xpm-mc-panel-curves")
    fresh.wait_for_timeout(350)
    assert fresh.evaluate("() => window.current.model.get('panel')") == "curves"
    assert fresh.is_visible(".xpm-mc-charts") and not fresh.is_visible(".xpm-pc-chart")


FOCUSED = """() => { const a = document.activeElement;
  return a && a.matches('circle.xpm-pc-point') ? { k: Number(a.dataset.k), label: a.getAttribute('aria-label'),
    role: a.getAttribute('role'), hover: document.querySelector('.xpm-mc-hover').textContent } : null; }"""


def test_the_points_are_keyboard_usable_and_keep_the_focus_live(fresh, tmp_path):
    state, jobs = grid(tmp_path, TAGS[:3])
    model = {"_xpm_id": "pk", "title": "grid", "tag_names": ["lr", "opt", "layers"], "snapshot": state.snapshot(),
             "patch": {}, "color_by": "", "group_by": "", "log_scale": False, "smoothing": 0.0,
             "panel": "parameters", "param_metric": "", "param_x": "lr", "param_best": "last"}
    chart.render(fresh, "metrics_view", model, width=560, select=True)
    # Tab from the toolbar's last control reaches the points, in run order.
    fresh.focus(".xpm-mc-log")
    fresh.keyboard.press("Tab")
    assert fresh.evaluate(FOCUSED)["k"] == 0
    fresh.keyboard.press("Tab")
    focused = fresh.evaluate(FOCUSED)
    assert focused["k"] == 1 and focused["role"] == "button"
    assert "lr=0.01" in focused["label"] and "opt=adam" in focused["label"] and "last loss = 1.25" in focused["label"]
    assert focused["hover"] == focused["label"]  # the mouse's hover text
    assert fresh.evaluate("() => window.selected") == []
    fresh.keyboard.press("Enter")
    assert fresh.evaluate("() => window.selected") == [1]
    assert "xpm-pc-picked" in fresh.get_attribute(".xpm-pc-chart circle[data-k='1']", "class")
    fresh.keyboard.press(" ")
    assert fresh.evaluate("() => window.selected") == [1, 1]
    # A live patch redraws the chart (new elements): the focus stays on run 1's point.
    fresh.evaluate("() => { window.before = document.activeElement; }")
    state.add_event(jobs[1], 1, 10, 50.0, {"loss": 7.5})
    chart.message(fresh, state.patch(), settle=400)
    assert fresh.evaluate("() => window.before.isConnected") is False  # redrawn
    focused = fresh.evaluate(FOCUSED)
    assert focused["k"] == 1 and "last loss = 7.5" in focused["label"] and focused["hover"] == focused["label"]
    fresh.keyboard.press("Enter")
    assert fresh.evaluate("() => window.selected") == [1, 1, 1]
    # Leaving the chart clears the hover text.
    fresh.keyboard.press("Shift+Tab")
    fresh.keyboard.press("Shift+Tab")
    assert fresh.evaluate(FOCUSED) is None
    assert fresh.inner_text(".xpm-mc-hover").strip() == ""


def test_a_point_opens_its_runs_row_in_the_experiment_view(fresh, tmp_path):
    curves, jobs = grid(tmp_path, TAGS[:3])
    for job in jobs:
        job.state = JobState.RUNNING
    # The table's keys are not the curves' (another order): rows are matched by job id.
    table = JobTableState(list(reversed(jobs)))
    table.baseline()
    state = {"_xpm_id": "xp", "title": "t", "tag_names": table.tag_names, "metric_names": table.metric_names,
             "counts": table.counts(), "snapshot": table.compact_snapshot(), "patch": {}, "n_jobs": 3,
             "name": "grid", "run_id": "r", "workspace": "/ws", "status": "running", "services": [],
             "curves_patch": {}, "curves_color_by": "", "curves_group_by": "", "curves_log_scale": False,
             "curves_smoothing": 0.0, "curves_panel": "parameters", "curves_param_metric": "loss",
             "curves_param_x": "lr", "curves_param_best": "last"}
    chart.render(fresh, "experiment_view", state, settle=50)
    chart.open_curves(fresh)
    chart.message(fresh, {**curves.snapshot(), "type": "curves_snapshot"}, settle=350)
    assert len(chart.dots(fresh)) == 3
    fresh.click(".xpm-pc-chart circle[data-k='0']")
    fresh.wait_for_timeout(200)
    selected = fresh.evaluate("() => [...document.querySelectorAll('.xpm-jt-row.xpm-selected')].map((r) => Number(r.dataset.k))")
    assert selected == [2]  # jobs[0] is the table's third row
    assert fresh.get_attribute(".xpm-pc-chart circle[data-k='0']", "class").count("xpm-pc-picked") == 1
    # The kernel's patches come as messages: a new point moves the run's dot.
    before = chart.dots(fresh)
    curves.add_event(jobs[1], 1, 9, 90.0, {"loss": 50.0})
    chart.message(fresh, {**curves.patch(), "type": "curves_patch"}, settle=400)
    after = chart.dots(fresh)
    assert after[1]["cy"] < before[1]["cy"] and after[0]["cx"] == before[0]["cx"]


def test_a_stopped_jobs_progress_cell_tells_how_far_it_got(fresh):
    out = fresh.evaluate("""() => {
      const { stoppedAt } = window.job_table;
      return [
        stoppedAt({ state: 'error', reason: 'boom', progress: [[0.4, 'epochs'], [0.5, null]] }),
        stoppedAt({ state: 'error', reason: 'cancelled', progress: [[0.25, null]] }),
        stoppedAt({ state: 'error', reason: 'boom', progress: [] }),
        stoppedAt({ state: 'done', progress: [[1, 'epochs']] }),
      ];
    }""")
    assert out == ["failed at 40% (epochs): the last progress it reported",
                   "cancelled at 25%: the last progress it reported", "", ""]


def test_metric_values_read_alike_live_and_static(fresh):
    values = [0.123456, 1.2345e-5, 12345, 123456, 0, 2.5, 12345.6, -0.5, 0.001]
    page = fresh.evaluate("(vs) => vs.map((v) => window.metrics.formatMetric(v))", values)
    assert page == [format_metric(v) for v in values]


def test_a_failed_rows_progress_is_kept_in_the_table(fresh, tmp_path):
    [job] = chart.fail_jobs(tmp_path, [1])
    job.progress = [{"level": 0, "progress": 0.4, "desc": "epochs"}]
    metrics_log(job)
    job.state = JobState.ERROR
    job.failure_reason = "boom"
    table = JobTableState([job])
    table.baseline()
    state = {"_xpm_id": "ft", "title": "t", "tag_names": table.tag_names, "metric_names": table.metric_names,
             "counts": table.counts(), "snapshot": table.compact_snapshot(), "patch": {}, "n_jobs": 1}
    chart.render(fresh, "job_table", state, settle=60)
    cell = fresh.locator(".xpm-jt-row .xpm-c-progress")
    assert cell.get_attribute("title") == "failed at 40% (epochs): the last progress it reported"
    assert cell.inner_text().strip() == "40%"
