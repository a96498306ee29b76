"""The parameters view's data, metric columns in the static HTML, the progress finished jobs keep.

- ``parameter_points`` / ``MetricsView.parameters()``: one point per run, a
  numeric tag a scatter (log x over two decades), any other tag categorical;
  a run's best value exact though its curve was thinned;
- ``jobs_html`` / ``jobs_text`` (nbconvert, GitHub, a terminal): a column per
  metric with each job's last value;
- a failed or cancelled job keeps the progress it reached; a done one is at 100%.
"""

from __future__ import annotations

import asyncio

import pytest
from progress_tasks import HalfWay
from widget_helpers import comms, importable_tasks, until  # noqa: F401 - fixtures
from widget_tasks import Curves, Fail

from xpm_nb import experiment, tag
from xpm_nb.errors import InvalidArgumentError
from xpm_nb.scheduler.follow import metrics_log
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets import MetricsView
from xpm_nb.widgets.metrics import MAX_POINTS, CurveState
from xpm_nb.widgets.params import category_order, parameter_points
from xpm_nb.widgets.rows import job_row
from xpm_nb.widgets.static import format_metric, jobs_html, jobs_text

pytestmark = pytest.mark.usefixtures("comms")


def tagged_jobs(path, tags: list[dict]) -> list[Job]:
    """Unrun jobs with these tags (Fail tasks: ``code`` keeps them apart)."""
    workspace = Workspace(WorkspaceSettings(path))
    jobs = []
    for i, t in enumerate(tags):
        job = Job(Fail.C(code=i), workspace=workspace)
        job.tags = dict(t)
        jobs.append(job)
    return jobs


def curves_of(jobs, losses: list[list[float]]) -> CurveState:
    state = CurveState()
    for job, ys in zip(jobs, losses):
        state.add(job)
        state.set_history(job, (1, 0.0, {}))
        for step, y in enumerate(ys):
            state.add_event(job, 1, step, 1.0 + step, {"loss": y})
    return state


class TestParameterPoints:
    def test_a_numeric_tag_is_a_scatter_of_each_runs_value(self, tmp_path):
        jobs = tagged_jobs(tmp_path / "ws", [{"lr": 0.1, "opt": "sgd"}, {"lr": 0.001, "opt": "adam"},
                                             {"lr": 1.0, "opt": "sgd"}, {"lr": 0.01}])
        state = curves_of(jobs, [[3.0, 1.0, 2.0], [5.0, 4.0], [0.5, 0.25, 0.75], []])
        last = parameter_points(state, "loss", "lr", "last", color="opt")
        assert last["kind"] == "numeric" and last["log_x"] is True  # 0.001 to 1: three decades
        # The fourth run logged nothing: no point.
        assert [(p["k"], p["x"], p["y"], p["color"]) for p in last["points"]] == [
            (0, 0.1, 2.0, "sgd"), (1, 0.001, 4.0, "adam"), (2, 1.0, 0.75, "sgd")]
        assert last["points"][0]["tags"] == {"lr": 0.1, "opt": "sgd"}
        lowest = parameter_points(state, "loss", "lr", "min")
        assert [p["y"] for p in lowest["points"]] == [1.0, 4.0, 0.25]
        highest = parameter_points(state, "loss", "lr", "max")
        assert [p["y"] for p in highest["points"]] == [3.0, 5.0, 0.75]

    def test_other_tags_are_categories_in_order(self, tmp_path):
        jobs = tagged_jobs(tmp_path / "ws", [{"opt": "sgd", "layers": 10}, {"opt": "adam", "layers": 2},
                                             {"opt": "sgd"}, {"opt": True, "layers": 2}])
        state = curves_of(jobs, [[1.0], [2.0], [3.0], [4.0]])
        by_opt = parameter_points(state, "loss", "opt")
        assert by_opt["kind"] == "categorical" and by_opt["categories"] == ["adam", "sgd", "true"]
        assert [p["x"] for p in by_opt["points"]] == [1, 0, 1, 2]
        # A run without the tag: the values are not all numbers; "(none)" is a category.
        by_layers = parameter_points(state, "loss", "layers")
        assert by_layers["kind"] == "categorical"
        assert by_layers["categories"] == ["2", "10", "(none)"]  # numbers by value, then text
        assert [p["x"] for p in by_layers["points"]] == [1, 0, 2, 0]
        assert category_order(["b", "10", "a", "9", "1.5"]) == ["1.5", "9", "10", "a", "b"]
        small = parameter_points(state, "loss", "layers", color="opt")
        assert small["points"][3]["color"] == "true"

    def test_best_values_are_exact_though_the_curve_is_thinned(self, tmp_path):
        (job,) = tagged_jobs(tmp_path / "ws", [{"lr": 0.5}])
        state = CurveState()
        state.add(job)
        state.set_history(job, (1, 0.0, {}))
        state.baseline()
        ys = [1.0 + (i % 7) for i in range(3 * MAX_POINTS)]
        ys[2 * MAX_POINTS + 1] = -5.0  # the lowest: at an odd place, dropped by thinning
        for i, y in enumerate(ys):
            state.add_event(job, 1, i, 1.0 + i, {"loss": y})
        snapshot = state.snapshot()
        kept = snapshot["curves"]["0"]["loss"][1]
        assert len(kept) <= MAX_POINTS and -5.0 not in kept  # thinned away
        assert snapshot["extremes"] == {"0": {"loss": [-5.0, 7.0]}}
        assert state.values("loss", "min") == {0: -5.0}
        assert state.values("loss", "last") == {0: ys[-1]}
        patch = state.patch()  # thinned curves are sent whole, with their extremes
        assert patch["extremes"] == {"0": {"loss": [-5.0, 7.0]}}
        with pytest.raises(InvalidArgumentError, match="best='median'"):
            state.values("loss", "median")


def test_metrics_view_parameters_of_real_runs(workdir):
    """A grid over a numeric tag: MetricsView.parameters() gives a point per finished run."""

    async def main():
        xp = experiment(workdir, "grid")
        for lr in (0.5, 1.0, 2.0):
            Curves.C(lr=tag(lr), steps=3).submit()
        view = MetricsView(xp, panel="parameters", metric="loss", x="lr", best="min")
        await until(lambda: all(j.state.finished for j in xp.jobs))
        await until(lambda: len(view.parameters()["points"]) == 3)
        opening = view.comm.opening_state()
        points = view.parameters()
        xp.close()
        view.close()
        return opening, points

    opening, points = asyncio.run(main())
    assert (opening["panel"], opening["param_metric"], opening["param_x"], opening["param_best"]) == (
        "parameters", "loss", "lr", "min")
    assert points["kind"] == "numeric" and points["best"] == "min"
    # Curves logs loss = 1 / (1 + step * lr) for steps 0..2: its lowest is at step 2.
    assert sorted((p["x"], p["y"]) for p in points["points"]) == [
        (lr, pytest.approx(1 / (1 + 2 * lr))) for lr in (0.5, 1.0, 2.0)]
    with pytest.raises(InvalidArgumentError, match="panel='scatter'"):
        MetricsView([], panel="scatter")


class TestStaticMetricColumns:
    def test_a_column_per_metric_with_each_jobs_last_value(self, tmp_path):
        jobs = tagged_jobs(tmp_path / "ws", [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}])
        for nth, (job, values) in enumerate(zip(jobs, [{"loss": 0.123456, "acc": 0.5},
                                                       {"loss": 1.5e-6}, {}])):
            job.state = JobState.RUNNING
            if values:
                metrics_log(job).apply(job, {"event_type": "JobMetricsEvent", "step": 3,
                                             "metrics": values, "timestamp": 10.0 + nth}, nth)
        html = jobs_html(jobs)
        head = html.split("</thead>")[0]
        assert head.index(">lr<") < head.index(">loss<") < head.index(">acc<") < head.index(">progress<")
        rows = html.split("<tr data-state=")[1:]
        assert ">0.1235</td>" in rows[0] and ">0.5</td>" in rows[0] and "title='0.123456'" in rows[0]
        assert ">1.5e-6</td>" in rows[1] and "xpm-metric" not in rows[2]
        assert "loss=0.1235 acc=0.5" in jobs_text(jobs).splitlines()[0]

    def test_metric_values_read_as_in_the_live_table(self):
        # js/metrics.js formatMetric's outputs for the same values (tests/browser/test_params_js.py).
        assert [format_metric(v) for v in (0.123456, 1.2345e-5, 12345, 123456, 0, 2.5, 12345.6, None)] == [
            "0.1235", "1.234e-5", "12345", "1.235e+5", "0", "2.5", "12350", ""]


def test_failed_and_cancelled_jobs_keep_the_progress_they_reached(workdir, tmp_path):
    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "progress")
        failed = HalfWay.C(reached=0.4).submit().__xpm__.job
        held = HalfWay.C(reached=0.3, gate=gate).submit().__xpm__.job
        done = Curves.C(lr=tag(1.0), steps=2).submit().__xpm__.job
        await until(lambda: failed.state.finished and done.state.finished and held.progress)
        held.cancel()
        await until(lambda: held.state.finished)
        rows = [job_row(j, k) for k, j in enumerate((failed, held, done))]
        html = jobs_html([failed, held, done])
        xp.close()
        return rows, html

    (failed, cancelled, done), html = asyncio.run(main())
    assert failed["state"] == "error" and failed["progress"] == [[0.4, "epochs"]]
    assert cancelled["reason"] == "cancelled" and cancelled["progress"] == [[0.3, "epochs"]]
    assert done["state"] == "done" and done["progress"] == []  # metrics only: no bar, shown full
    assert "epochs 40% (stopped)" in html and "epochs 30% (stopped)" in html
    assert html.split("<tr data-state=")[3].count("100%") == 1


def test_a_done_job_is_at_100_percent_whatever_it_last_reported(tmp_path):
    (job,) = tagged_jobs(tmp_path / "ws", [{}])
    job.progress = [{"level": 0, "progress": 0.97, "desc": "epochs"},
                    {"level": 1, "progress": 0.5, "desc": "batches"}]
    job.state = JobState.RUNNING
    assert job_row(job, 0)["progress"] == [[0.97, "epochs"], [0.5, "batches"]]
    job.state = JobState.DONE
    assert job_row(job, 0)["progress"] == [[1.0, "epochs"]]


def test_a_charts_flush_sets_off_no_garbage_collection(tmp_path):
    """A patch's thousands of lists are built and sent with the collector paused (they are
    freed right after): no young collection promoting them, no full pass of the heap."""
    import gc

    jobs = tagged_jobs(tmp_path / "ws", [{"lr": i} for i in range(300)])
    view = MetricsView(jobs)

    def add_points(step: int) -> None:
        for job in jobs:
            for s in range(step, step + 3):
                view.curves.add_event(job, 1, s, 1.0 + s, {f"m{i}": 0.5 * s + i for i in range(10)})

    def collections() -> int:
        return gc.get_stats()[0]["collections"]

    try:
        add_points(0)
        before = collections()
        control = view.curves.patch()  # the same kind of patch, collector on: collections
        during_control = collections() - before
        del control
        add_points(3)
        before = collections()
        view._flush()
        during_flush = collections() - before
        assert gc.isenabled()
        sent = view.comm.custom("patch")
        assert len(sent[-1]["append"]) == 300
        gc.disable()  # the user's choice stays
        add_points(6)
        view._flush()
        assert not gc.isenabled()
    finally:
        gc.enable()
        view.close()
    # The test's comm keeps a decoded copy of each message (a kernel's sends it and drops
    # it): one young collection may follow the window, not a dozen.
    assert during_control >= 5 and during_flush <= 1, (during_control, during_flush)
