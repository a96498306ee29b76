"""Metric columns and metric charts in headless Chromium, on a blank page with a fake model.

Exact checks of what the live notebook shows only now and then: the metric
columns hold the last values, a first click sorts best first (ascending for
a loss, descending for an accuracy), a job that logs only metrics shows its
step and values instead of an empty bar, a patch carrying only the changed
fields merges into the row, the table scrolls sideways at 560 px, and the
chart view draws one path per run (or a mean and a band per group) and adds
the points of a patch.
"""

from __future__ import annotations

import re

import pytest

from support import chartpage as chart
from support.blankpage import blank_page, clean
from xpm_nb.scheduler.follow import metrics_log
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.widgets.metrics import CurveState
from xpm_nb.widgets.rows import JobTableState


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from blank_page(tmp_path_factory.mktemp("chromium-metrics"), ("job_table", "metrics_view", "metrics_chart", "experiment_view"))


@pytest.fixture
def fresh(page):
    yield from clean(page, viewport=chart.VIEWPORT)


def make_jobs(tmp_path, n: int) -> list[Job]:
    from xpm_nb import tag

    return chart.fail_jobs(tmp_path, [tag(i) for i in range(n)])


def log(job, nth: int, step: int, **values) -> None:
    metrics_log(job).apply(job, {"event_type": "JobMetricsEvent", "step": step, "metrics": values,
                                 "timestamp": 100.0 + nth}, nth)


def table_state(tmp_path) -> tuple[dict, JobTableState, list[Job]]:
    jobs = make_jobs(tmp_path, 4)
    for i, job in enumerate(jobs):
        job.state = JobState.RUNNING
        if i < 3:  # the fourth logs nothing
            log(job, 0, 10 * i, loss=[0.5, 0.1, 0.9][i], accuracy=[0.7, 0.95, 0.2][i])
    state = JobTableState(jobs)
    state.baseline()
    snapshot = state.compact_snapshot()
    return ({"_xpm_id": "mt", "title": "t", "tag_names": state.tag_names,
             "metric_names": state.metric_names, "counts": state.counts(), "snapshot": snapshot,
             "patch": {}, "n_jobs": 4}, state, jobs)


def test_metric_columns_sort_best_first_and_update(fresh, tmp_path):
    state, table, jobs = table_state(tmp_path)
    chart.render(fresh, "job_table", state, settle=50)
    heads = fresh.evaluate("() => [...window.current.el.querySelectorAll('.xpm-jt-head > div')].map((d) => d.textContent)")
    assert heads == ["state", "task", "code", "loss", "accuracy", "progress", "duration", ""]
    assert chart.column(fresh, "metric:loss") == [[0, "0.5"], [1, "0.1"], [2, "0.9"], [3, ""]]
    # A loss: lowest first; an accuracy: highest first. Empty values last both ways.
    chart.sort_by(fresh, "metric:loss")
    assert [k for k, _ in chart.column(fresh, "metric:loss")] == [1, 0, 2, 3]
    chart.sort_by(fresh, "metric:loss")  # the other way
    assert [k for k, _ in chart.column(fresh, "metric:loss")][:3] == [2, 0, 1]
    chart.sort_by(fresh, "metric:accuracy")
    assert [k for k, _ in chart.column(fresh, "metric:accuracy")] == [1, 0, 2, 3]
    # No progress bar, but metrics: the step and the values instead of an empty bar.
    progress = chart.column(fresh, "progress")
    assert dict(progress)[0] == "step 0 · loss 0.5 · accuracy 0.7"
    assert dict(progress)[3] == ""
    assert fresh.evaluate("() => window.current.el.querySelectorAll('.xpm-jt-row .xpm-bar').length") == 0
    # A live patch: only the changed fields, merged; the sort follows the new value.
    log(jobs[2], 1, 21, loss=0.01, accuracy=0.99)
    table.mark(jobs[2])
    patch = table.patch()
    assert set(patch["rows"][0]) == {"k", "metrics", "step"}
    chart.change(fresh, "patch", patch, settle=60)
    assert [k for k, _ in chart.column(fresh, "metric:accuracy")] == [2, 1, 0, 3]
    assert dict(chart.column(fresh, "metric:accuracy"))[2] == "0.99"


def test_a_narrow_table_scrolls_sideways(fresh, tmp_path):
    state, _, _ = table_state(tmp_path)
    fresh.set_viewport_size({"width": 560, "height": 700})
    chart.render(fresh, "job_table", state, settle=50)
    shown = fresh.evaluate("""() => {
      const el = window.current.el;
      const scroller = el.querySelector('.xpm-jt-scroll');
      const cancel = el.querySelector('.xpm-jt-row[data-k="0"] button.xpm-cancel');
      scroller.scrollLeft = scroller.scrollWidth;
      const box = cancel.getBoundingClientRect();
      const outer = scroller.getBoundingClientRect();
      return { scrolls: scroller.scrollWidth > scroller.clientWidth, left: scroller.scrollLeft,
               visible: box.right <= outer.right + 1 && box.left >= outer.left - 1 };
    }""")
    assert shown["scrolls"] and shown["left"] > 0 and shown["visible"], shown


def curve_state(tmp_path) -> tuple[CurveState, list[Job]]:
    jobs = make_jobs(tmp_path, 4)
    state = CurveState()
    for i, job in enumerate(jobs):
        job.tags["lr"] = [0.1, 0.1, 1.0, 1.0][i]
        state.add(job)
        xs = list(range(5))
        state.set_history(job, (1, 10.0, {"loss": (xs, [1.0 / (1 + x + i) for x in xs]),
                                          "accuracy": (xs, [0.1 * x + 0.01 * i for x in xs])}))
    state.baseline()
    return state, jobs


def test_charts_draw_a_curve_per_run_and_add_live_points(fresh, tmp_path):
    state, jobs = curve_state(tmp_path)
    model = {"_xpm_id": "mv", "title": "sweep", "tag_names": ["code", "lr"], "snapshot": state.snapshot(),
             "patch": {}, "color_by": "lr", "group_by": "", "log_scale": False, "smoothing": 0.0}
    chart.render(fresh, "metrics_view", model)
    paths = chart.paths(fresh)
    assert paths["loss"]["lines"] == 4 and paths["accuracy"]["lines"] == 4
    assert paths["loss"]["points"] == [5, 5, 5, 5]
    # Coloured by lr: two colours, the runs sharing a value share one.
    colours = fresh.evaluate("() => [...document.querySelectorAll('[data-metric=loss] path.xpm-mc-line')].map((p) => p.getAttribute('stroke'))")
    assert colours[0] == colours[1] != colours[2] == colours[3]
    # A live patch adds points to the running job's curves.
    for step in (5, 6):
        state.add_event(jobs[0], 1, step, 20.0 + step, {"loss": 0.1, "accuracy": 0.9})
    patch = state.patch()
    assert patch["append"] == {"0": {"loss": [[5, 6], [0.1, 0.1]], "accuracy": [[5, 6], [0.9, 0.9]]}}
    chart.change(fresh, "patch", patch, settle=350)
    assert chart.paths(fresh)["loss"]["points"] == [7, 5, 5, 5]
    # Hover: the run's tags.
    point = fresh.evaluate("""() => {
      const path = document.querySelector("[data-metric=loss] path.xpm-mc-line[data-key='2']");
      const p = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(path.getScreenCTM());
      return [p.x, p.y];
    }""")
    fresh.mouse.move(*point)  # on the line itself (the fill does not take the pointer)
    assert "lr=1" in fresh.inner_text(".xpm-mc-hover") and "code=2" in fresh.inner_text(".xpm-mc-hover")
    # Grouped by lr: a mean and a band per value, no single curves.
    fresh.select_option(".xpm-mc-group", "lr")
    fresh.wait_for_timeout(350)
    grouped = chart.paths(fresh)["loss"]
    assert (grouped["lines"], grouped["means"], grouped["bands"]) == (0, 2, 2)
    assert fresh.evaluate("() => window.current.model.get('group_by')") == "lr"
    # Log scale and smoothing change the drawing, not the data.
    before = fresh.get_attribute("[data-metric=loss] path.xpm-mc-mean", "d")
    fresh.check(".xpm-mc-log")
    fresh.wait_for_timeout(350)
    assert fresh.get_attribute("[data-metric=loss] path.xpm-mc-mean", "d") != before
    fresh.fill(".xpm-mc-smooth", "0.9")
    fresh.wait_for_timeout(350)
    assert fresh.evaluate("() => window.current.model.get('smoothing')") == 0.9


def test_smoothing_and_group_statistics(fresh):
    out = fresh.evaluate("""() => {
      const { smooth, groupStats } = window.metrics_chart;
      return { flat: smooth([2, 2, 2], 0.9), none: smooth([1, 3], 0),
               stats: groupStats([{ x: [0, 1], y: [1, 3] }, { x: [0, 1, 2], y: [3, 5, 7] }]) };
    }""")
    assert [round(v, 9) for v in out["flat"]] == [2, 2, 2]  # debiased: no ramp from 0
    assert out["none"] == [1, 3]
    assert out["stats"] == {"x": [0, 1, 2], "mean": [2, 4, 7], "min": [1, 3, 7], "max": [3, 5, 7]}


def test_saved_copy_of_the_chart_holds_its_curves(fresh, tmp_path):
    state, _ = curve_state(tmp_path)
    model = {"_xpm_id": "mv2", "title": "", "tag_names": ["lr"], "snapshot": state.snapshot(),
             "patch": {}, "color_by": "", "group_by": "", "log_scale": False, "smoothing": 0.0}
    chart.render(fresh, "metrics_view", model)
    saved = fresh.evaluate("() => globalThis[Symbol.for('xpm_nb.views')].models.get('mv2').snapshot()")
    assert saved["curves"] == state.snapshot()["curves"]  # 1 == 1.0: JSON numbers alike


def test_the_experiment_view_opens_the_curves_on_demand(fresh, tmp_path):
    table, _, _ = table_state(tmp_path)
    curves, jobs = curve_state(tmp_path / "c")
    state = {**table, "name": "sweep", "run_id": "r", "workspace": "/ws", "status": "running",
             "services": [], "curves_patch": {}, "curves_color_by": "", "curves_group_by": "",
             "curves_log_scale": False, "curves_smoothing": 0.0, "tag_names": ["code", "lr"]}
    snapshot = {**curves.snapshot(), "type": "curves_snapshot"}
    curves.add_event(jobs[0], 1, 5, 30.0, {"loss": 0.05})
    patch = curves.patch()
    chart.render(fresh, "experiment_view", state, settle=50)
    before = len(chart.sent(fresh))
    panel = fresh.evaluate("() => window.current.el.querySelectorAll('.xpm-mc').length")
    chart.open_curves(fresh)
    assert panel == 0 and chart.sent(fresh)[before:] == [{"type": "curves_sync"}]  # nothing before a click
    # The kernel's answer (a custom message), then a patch of new points.
    chart.message(fresh, snapshot, settle=300)
    lines = chart.paths(fresh)["loss"]["lines"]
    chart.change(fresh, "curves_patch", patch, settle=350)
    first = fresh.get_attribute(".xpm-mc-chart[data-metric='loss'] path.xpm-mc-line[data-key='0']", "d")
    assert lines == 4 and len(re.findall("[ML]", first)) == 6
    fresh.select_option(".xpm-mc-group", "lr")
    fresh.wait_for_timeout(350)
    group = fresh.evaluate("() => window.current.model.get('curves_group_by')")
    rows = fresh.evaluate("() => window.current.el.querySelectorAll('.xpm-jt-row').length")
    assert group == "lr" and chart.paths(fresh)["loss"]["means"] == 2 and rows == 4  # the table is still there
