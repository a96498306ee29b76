"""A view that (re)starts from a curves snapshot gets each point once.

A point logged after the curves are followed but not flushed yet is pending:
the next patch appends it. A snapshot sent then must not hold it too, or a
view (js/metrics_panel.js's ``CurveStore``, which applies every patch numbered
after its snapshot) draws it twice.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from widget_helpers import comms, importable_tasks, until  # noqa: F401 - fixtures
from widget_tasks import Curves

from xpm_nb import experiment, tag
from xpm_nb.scheduler.follow import metrics_log
from xpm_nb.scheduler.jobs import Job
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets.metrics import CurveState
from xpm_nb.widgets.updates import UPDATE_INTERVAL

pytestmark = pytest.mark.usefixtures("comms")


def store_replay(messages: list[dict]) -> dict[str, dict[str, list]]:
    """The curves a ``CurveStore`` holds after these snapshots and patches (as
    js/metrics_panel.js applies them: an older snapshot, a patch not after the
    store's ``seq``, are dropped)."""
    curves: dict[str, dict[str, list]] = {}
    seq = None
    for m in messages:
        if m["type"] == "snapshot":
            if seq is not None and m["seq"] < seq:
                continue
            curves = {k: {n: [list(x), list(y)] for n, (x, y) in c.items()}
                      for k, c in m["curves"].items()}
        else:
            if seq is not None and m["seq"] <= seq:
                continue
            for k, byname in m.get("set", {}).items():
                curves[k] = {n: [list(x), list(y)] for n, (x, y) in byname.items()}
            for k, byname in m.get("append", {}).items():
                for n, (x, y) in byname.items():
                    held = curves.setdefault(k, {}).setdefault(n, [[], []])
                    held[0] += x
                    held[1] += y
        seq = m["seq"]
    return curves


def log_point(job, step: int, loss: float) -> None:
    """A metrics event of ``job``, applied as the scheduler's follower applies one."""
    log = metrics_log(job)
    record = {"event_type": "JobMetricsEvent", "step": step, "metrics": {"loss": loss},
              "timestamp": time.time()}
    assert log.apply(job, record, log.read)


def last_step(messages: list[dict]) -> int | None:
    xs = store_replay(messages).get("0", {}).get("loss", [[]])[0]
    return xs[-1] if xs else None


def curve_messages(comm, since: int = 0) -> list[dict]:
    """The custom messages carrying curves (``curves_snapshot``/``curves_patch`` as
    ``snapshot``/``patch``, as js/experiment_view.js hands them to the store)."""
    out = []
    for content in comm.custom()[since:]:
        kind = content.get("type", "").removeprefix("curves_")
        if kind in ("snapshot", "patch"):
            out.append({**content, "type": kind})
    return out


class TestCurveState:
    def setup_state(self, tmp_path) -> tuple[CurveState, Job]:
        from widget_tasks import Fail

        job = Job(Fail.C(code=0), workspace=Workspace(WorkspaceSettings(tmp_path / "ws")))
        state = CurveState()
        state.add(job)
        state.set_history(job, (1, 10.0, {"loss": ([0, 1], [1.0, 0.5])}))
        state.baseline()
        state.add_event(job, 1, 2, 11.0, {"loss": 0.25})  # pending: the next patch appends it
        return state, job

    def test_snapshot_for_view_then_patches(self, tmp_path):
        state, job = self.setup_state(tmp_path)
        snapshot = state.snapshot_for_view()
        assert snapshot["curves"]["0"]["loss"] == [[0, 1, 2], [1.0, 0.5, 0.25]]
        state.add_event(job, 1, 3, 12.0, {"loss": 0.125})
        curves = store_replay([snapshot, state.patch()])
        assert curves["0"]["loss"] == [[0, 1, 2, 3], [1.0, 0.5, 0.25, 0.125]]

    def test_a_snapshot_without_the_unsent_points_changes_no_patch(self, tmp_path):
        state, _ = self.setup_state(tmp_path)
        snapshot = state.snapshot(unsent=False)
        assert snapshot["curves"]["0"]["loss"] == [[0, 1], [1.0, 0.5]]
        assert snapshot["extremes"]["0"]["loss"] == [0.25, 1.0]  # every point: folding is idempotent
        patch = state.patch()
        assert patch["append"] == {"0": {"loss": [[2], [0.25]]}}
        assert store_replay([snapshot, patch])["0"]["loss"] == [[0, 1, 2], [1.0, 0.5, 0.25]]

    def test_a_curve_sent_whole_next_is_whole_in_it(self, tmp_path):
        state, job = self.setup_state(tmp_path)
        state.add_event(job, 2, 0, 20.0, {"loss": 2.0})  # a new attempt: sent whole ("set")
        snapshot = state.snapshot(unsent=False)
        assert snapshot["curves"]["0"]["loss"] == [[0], [2.0]]
        assert store_replay([snapshot, state.patch()])["0"]["loss"] == [[0], [2.0]]


async def finished_job(workdir, name: str):
    xp = experiment(workdir, name)
    job = Curves.C(lr=tag(1.0), steps=2).submit().__xpm__.job
    await until(lambda: job.state.finished and metrics_log(job).step == 1)
    return xp, job


def test_experiment_view_resync_sends_a_pending_point_once(workdir):
    from xpm_nb.widgets import ExperimentView

    async def main():
        xp, job = await finished_job(workdir, "resync")
        view = ExperimentView(xp)
        view.comm.from_frontend({"type": "curves_sync"})  # the feed follows the job from here
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        since = len(view.comm.custom())
        with view._sync_lock:  # the scheduler's flush waits: the point is pending at the sync
            log_point(job, 2, 0.25)
            view.comm.from_frontend({"type": "curves_sync"})  # a view missed a patch
        log_point(job, 3, 0.125)
        await until(lambda: last_step(curve_messages(view.comm, since)) == 3)  # the next flush
        messages = curve_messages(view.comm, since)
        xp.close()
        view.close()
        return messages

    messages = asyncio.run(main())
    assert messages[0]["type"] == "snapshot" and messages[0]["curves"]["0"]["loss"][0] == [0, 1, 2]
    assert store_replay(messages)["0"]["loss"][0] == [0, 1, 2, 3]


def test_metrics_view_sync_and_state_send_each_point_once(workdir):
    """A ``sync`` message (every view gets it) and the widget's state (a page that
    loads asks for it alone, other views keep theirs): each point once in every view."""
    from xpm_nb.widgets import MetricsView

    async def main():
        xp, job = await finished_job(workdir, "resync_mv")
        view = MetricsView(xp)
        opening = view.comm.opening_state()["snapshot"]
        with view._sync_lock:
            log_point(job, 2, 0.25)
            view.comm.from_frontend({"type": "sync"})
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        since = len(view.comm.custom())
        with view._sync_lock:
            log_point(job, 3, 0.125)
            loaded = view.get_state()["snapshot"]  # what a page that loads gets, alone
        await until(lambda: last_step(curve_messages(view.comm, since)) == 3)  # the next flush
        later = curve_messages(view.comm, since)
        every = curve_messages(view.comm)
        xp.close()
        view.close()
        return opening, every, loaded, later

    opening, every, loaded, later = asyncio.run(main())
    assert every[0]["type"] == "snapshot" and every[0]["curves"]["0"]["loss"][0] == [0, 1, 2]
    assert store_replay([opening, *every])["0"]["loss"][0] == [0, 1, 2, 3]  # a view open all along
    assert store_replay([loaded, *later])["0"]["loss"][0] == [0, 1, 2, 3]  # the page that loaded
