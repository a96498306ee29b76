"""MetricsView: the curves of the logged metrics, history at the start, then only new points."""

from __future__ import annotations

import asyncio

import pytest
from widget_helpers import comms, importable_tasks, until  # noqa: F401 - fixtures
from widget_tasks import Curves, Fail

from xpm_nb import experiment, tag
from xpm_nb.scheduler.follow import metrics_log
from xpm_nb.scheduler.jobs import Job
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets import MetricsView
from xpm_nb.widgets.metrics import MAX_POINTS, CurveState
from xpm_nb.widgets.updates import UPDATE_INTERVAL

pytestmark = pytest.mark.usefixtures("comms")


def curve_messages(comm) -> list[dict]:
    """Snapshots and patches in the order a view gets them."""
    out = []
    for msg_type, data in comm.messages:
        if msg_type == "comm_open":
            out.append(data["state"]["snapshot"])
        elif msg_type == "comm_msg" and data.get("method") == "update" and data["state"].get("patch"):
            out.append(data["state"]["patch"])
        elif msg_type == "comm_msg" and data.get("method") == "custom":
            out.append(data["content"])
    return out


def replay_curves(messages: list[dict]) -> dict[str, dict[str, list]]:
    """The curves a view holds after these messages (as js/metrics_view.js applies them)."""
    curves: dict[str, dict[str, list]] = {}
    for m in messages:
        if m["type"] == "snapshot":
            curves = {k: {n: [list(x), list(y)] for n, (x, y) in c.items()}
                      for k, c in m["curves"].items()}
            continue
        for k, byname in m.get("set", {}).items():
            curves[k] = {n: [list(x), list(y)] for n, (x, y) in byname.items()}
        for k, byname in m.get("append", {}).items():
            run = curves.setdefault(k, {})
            for n, (x, y) in byname.items():
                run.setdefault(n, [[], []])
                run[n][0] += x
                run[n][1] += y
    return curves


def unrun_jobs(path, n: int) -> list[Job]:
    workspace = Workspace(WorkspaceSettings(path))
    return [Job(Fail.C(code=i), workspace=workspace) for i in range(n)]


class TestCurveState:
    def test_patches_hold_only_new_points_and_a_new_attempt_resets(self, tmp_path):
        (job,) = unrun_jobs(tmp_path / "ws", 1)
        state = CurveState()
        state.add(job)
        state.add_event(job, 1, 0, 10.0, {"loss": 1.0})  # while the history is read: waits
        state.set_history(job, (1, 10.5, {"loss": ([0, 1], [1.0, 0.5])}))
        state.baseline()
        assert state.snapshot()["curves"] == {"0": {"loss": [[0, 1], [1.0, 0.5]]}}
        assert not state.add_event(job, 1, 1, 10.5, {"loss": 0.5})  # in the history already
        state.add_event(job, 1, 2, 11.0, {"loss": 0.25})
        state.add_event(job, 1, 3, 12.0, {"loss": 0.125, "acc": 0.9})
        patch = state.patch()
        assert patch["append"] == {"0": {"loss": [[2, 3], [0.25, 0.125]], "acc": [[3], [0.9]]}}
        assert patch["metric_names"] == ["loss", "acc"] and patch["seq"] == 1
        assert state.patch() is None
        state.add_event(job, 2, None, 20.0, None)  # a new attempt starts
        state.add_event(job, 2, 0, 21.0, {"loss": 2.0})
        patch = state.patch()
        assert patch["set"] == {"0": {"loss": [[0], [2.0]]}} and patch["runs"][0]["attempt"] == 2

    def test_long_curves_are_thinned_and_sent_whole(self, tmp_path):
        (job,) = unrun_jobs(tmp_path / "ws", 1)
        state = CurveState()
        state.add(job)
        state.set_history(job, (1, 0.0, {}))
        state.baseline()
        for i in range(MAX_POINTS + 1):
            state.add_event(job, 1, i, 1.0 + i, {"loss": float(i)})
        patch = state.patch()
        (xs, ys) = patch["set"]["0"]["loss"]
        assert len(xs) <= MAX_POINTS and xs[-1] == MAX_POINTS and "append" not in patch


def test_live_curves_of_real_jobs(workdir, tmp_path):
    """History read at the start, then new points only: every point reaches the view once."""
    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "curves")
        held = Curves.C(lr=tag(1.0), steps=6, hold=3, gate=gate).submit().__xpm__.job
        other = Curves.C(lr=tag(2.0), steps=3).submit().__xpm__.job
        await until(lambda: other.state.finished and metrics_log(held).step == 2)
        view = MetricsView(xp, group="lr")
        opening = view.comm.opening_state()
        gate.touch()
        late = Curves.C(lr=tag(3.0), steps=2).submit().__xpm__.job  # joins after the view
        await until(lambda: all(j.state.finished for j in xp.jobs))
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        xp.close()
        messages = curve_messages(view.comm)
        view.close()
        return view, opening, messages, held, late

    view, opening, messages, held, late = asyncio.run(main())
    assert opening["group_by"] == "lr" and opening["tag_names"] == ["lr"]
    first = opening["snapshot"]
    assert first["curves"]["0"]["loss"][0] == [0, 1, 2]  # held: its first three steps
    assert first["curves"]["1"]["loss"][0] == [0, 1, 2]  # done before the view
    curves = replay_curves(messages)
    assert curves["0"]["loss"][0] == [0, 1, 2, 3, 4, 5]  # each point once, in order
    assert curves["0"]["accuracy"][1][-1] == pytest.approx(0.5)
    assert curves["2"]["loss"][0] == [0, 1]  # the job submitted after the view opened
    patches = [m for m in messages if m["type"] == "patch"]
    assert [p["seq"] for p in patches] == list(range(1, len(patches) + 1))
    assert len(patches) <= view.flushes
    assert view.jobs[2] is late


def test_a_list_of_submitted_tasks_and_bad_sources(workdir):
    async def main():
        xp = experiment(workdir, "list")
        task = Curves.C(lr=tag(0.5), steps=2).submit()
        await until(lambda: task.__xpm__.job.state.finished)
        view = MetricsView([task])
        snapshot = view.comm.opening_state()["snapshot"]
        xp.close()
        view.close()
        return snapshot

    snapshot = asyncio.run(main())
    assert snapshot["runs"][0]["tags"] == {"lr": 0.5} and snapshot["metric_names"] == ["loss", "accuracy"]
    with pytest.raises(TypeError, match="neither a job nor a submitted task"):
        MetricsView([42])


def test_the_experiment_view_sends_curves_only_when_asked(workdir, tmp_path):
    """No curve is read before a view asks; then a snapshot, then new points in curves_patch."""
    from xpm_nb.widgets import ExperimentView

    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "xpcurves")
        job = Curves.C(lr=tag(1.0), steps=5, hold=2, gate=gate).submit().__xpm__.job
        view = ExperimentView(xp)
        await until(lambda: "metrics_log" in job.__dict__ and metrics_log(job).step == 1)
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        before = view.comm.custom("curves_patch")
        watchers = list(metrics_log(job).watchers)
        view.comm.from_frontend({"type": "curves_sync"})
        (snapshot,) = view.comm.custom("curves_snapshot")
        gate.touch()
        await until(lambda: job.state.finished)
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        patches = view.comm.custom("curves_patch")
        xp.close()
        view.close()
        return before, watchers, snapshot, patches, list(metrics_log(job).watchers)

    before, watchers, snapshot, patches, after = asyncio.run(main())
    assert before == [] and watchers == []  # nothing followed for curves before the click
    assert snapshot["curves"]["0"]["loss"][0] == [0, 1]
    curves = replay_curves([{**snapshot, "type": "snapshot"}, *patches])
    assert curves["0"]["loss"][0] == [0, 1, 2, 3, 4]
    assert [p["seq"] for p in patches] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(patches)))
    assert after == []  # closed: the watcher is gone
