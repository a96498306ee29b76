"""The job table and the experiment view, kept current by real jobs run by the scheduler."""

from __future__ import annotations

import asyncio
import json

import pytest
from widget_helpers import comms, importable_tasks, replay, snapshot_rows, until  # noqa: F401 - fixtures
from widget_tasks import Fail, Model, Steps

from xpm_nb import experiment, tag
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import RunMode, Workspace, WorkspaceSettings
from xpm_nb.widgets import ExperimentView, JobTable
from xpm_nb.widgets.rows import JobTableState
from xpm_nb.widgets.updates import UPDATE_INTERVAL

# Widgets get a comm that records what a front-end would receive.
pytestmark = pytest.mark.usefixtures("comms")


def row_history(messages: list[dict], key: int) -> list[dict]:
    """Every version of row ``key`` a view held (patch rows merged as the view merges them)."""
    out = []
    for i, m in enumerate(messages):
        rows = snapshot_rows(m) if m["type"] == "snapshot" else m["rows"]
        if any(r["k"] == key for r in rows):
            out.append(replay(messages[: i + 1])[key])
    return out


def unrun_jobs(path, n: int) -> list[Job]:
    """Real Job objects of ``n`` different configurations, never submitted."""
    settings = WorkspaceSettings(path)
    workspace = Workspace(settings)
    return [Job(Fail.C(code=i), workspace=workspace) for i in range(n)]


class TestRows:
    def test_a_patch_holds_only_the_rows_that_changed(self, tmp_path):
        """Of 2,000 jobs, the three that changed are sent; the others are not."""
        jobs = unrun_jobs(tmp_path / "ws", 2000)
        state = JobTableState(jobs)
        state.baseline()  # a view got every row
        assert len(state.snapshot()["rows"]) == 2000
        assert state.patch() is None  # nothing changed since
        for job in (jobs[3], jobs[500], jobs[1999]):
            job.state = JobState.RUNNING
            state.mark(job)
        state.mark(jobs[10])  # marked, but its row is the same: not sent
        patch = state.patch()
        assert [row["k"] for row in patch["rows"]] == [3, 500, 1999]
        assert {row["state"] for row in patch["rows"]} == {"running"}
        assert state.counts()["running"] == 3 and state.counts()["unscheduled"] == 1997

    def test_unknown_job_and_bad_requests_get_clear_answers(self, tmp_path):
        state = JobTableState(unrun_jobs(tmp_path / "ws", 2))
        reply = state.handle({"type": "cancel", "k": 7})
        assert reply["ok"] is False and "no job with key 7" in reply["message"]
        assert "it has 2 jobs" in reply["message"]
        assert state.handle({"type": "log", "k": "x"})["error"].startswith("no job with key 'x'")
        assert state.handle({"type": "nonsense"}) is None
        assert state.handle("not a dict") is None


def test_rows_follow_real_jobs_to_their_final_states(workdir):
    """States, failure reasons, nested progress and tags reach the front-end; counts are synced."""

    async def main():
        xp = experiment(workdir, "table")
        table = JobTable(xp.jobs, scheduler=xp.scheduler)  # before any submission
        ok = Steps.C(model=Model.C(hidden=tag(8)), outer=2, inner=2, pause=0.15).submit()
        bad = Fail.C(code=tag(3)).submit()
        await until(lambda: all(j.state.finished for j in xp.jobs))
        await asyncio.sleep(3 * UPDATE_INTERVAL)  # the last coalesced update
        return xp, table, ok.__xpm__.job, bad.__xpm__.job

    xp, table, ok, bad = asyncio.run(main())
    messages = table.comm.table_messages()
    rows = replay(messages)
    assert set(rows) == {0, 1}
    assert rows[0]["id"] == ok.identifier and rows[1]["id"] == bad.identifier
    assert rows[0]["state"] == "done"
    assert rows[0]["progress"][0] == [1.0, "epochs"]
    assert rows[1]["state"] == "error"
    assert "boom 3" in rows[1]["reason"] and rows[1]["code"] == 1
    assert rows[0]["tags"] == {"hidden": 8} and rows[1]["tags"] == {"code": 3}
    assert rows[0]["started"] <= rows[0]["ended"]
    states = [r["state"] for r in row_history(messages, 0)]
    assert "running" in states and states.index("running") < states.index("done")
    # Both progress levels were seen while the job ran.
    levels = [r["progress"] for r in row_history(messages, 0) if len(r["progress"]) == 2]
    assert levels and levels[0][1][1] == "batches"
    # Synced traitlets: counts by state, tag columns, number of jobs.
    assert table.counts["done"] == 1 and table.counts["error"] == 1
    assert sorted(table.tag_names) == ["code", "hidden"]
    last = {}
    for update in table.comm.updates():
        last.update(update)
    assert last["counts"]["done"] == 1 and last["n_jobs"] == 2
    xp.close()
    table.close()
    assert table._on_job not in xp.scheduler.listeners


def test_log_cancel_and_resubmit_act_through_the_scheduler(workdir, tmp_path):
    """A view's requests: a snapshot again, the log tail, cancel (on disk too), resubmit."""
    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "act")
        task = Steps.C(model=Model.C(hidden=1), outer=1, inner=2, pause=0.05, gate=gate).submit()
        job = task.__xpm__.job
        table = JobTable([job])
        frontend = table.comm
        frontend.from_frontend({"type": "sync"})
        snapshot = frontend.custom("snapshot")[-1]
        assert [r["id"] for r in snapshot_rows(snapshot)] == [job.identifier]

        await until(lambda: "step 0.1" in job.log_tail(5))
        frontend.from_frontend({"type": "log", "k": 0, "stream": "err", "lines": 5})
        log = frontend.custom("log")[-1]
        assert "step 0.1" in log["text"] and log["file"] == str(job.stderr)

        frontend.from_frontend({"type": "cancel", "k": 0})
        assert frontend.custom("action")[-1]["ok"] is True
        await until(lambda: job.state.finished)
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        assert replay(frontend.table_messages())[0]["reason"] == "cancelled"
        frontend.from_frontend({"type": "cancel", "k": 0})  # a finished job: nothing to do
        again = frontend.custom("action")[-1]
        assert again["ok"] is False and "already finished" in again["message"]

        gate.touch()
        frontend.from_frontend({"type": "resubmit", "k": 0})
        assert frontend.custom("action")[-1]["ok"] is True
        await until(lambda: job.state.finished)
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        xp.close()
        return job, table

    job, table = asyncio.run(main())
    # The cancelled run's log was kept aside when the job ran again.
    assert len(list(job.path.glob(f"{job.name}.*.err"))) == 1
    assert job.state is JobState.DONE and job.paths.done.exists()
    states = [r["state"] for r in row_history(table.comm.table_messages(), 0)]
    assert states[-1] == "done" and "error" in states
    table.close()


def test_cancel_is_written_in_the_failed_marker(workdir, tmp_path):
    """A cancel from the view ends the job with reason "cancelled" in its .failed file."""
    gate = tmp_path / "never"

    async def main():
        xp = experiment(workdir, "cancel")
        job = Steps.C(model=Model.C(hidden=2), outer=1, inner=1, pause=0.01,
                      gate=gate).submit().__xpm__.job
        table = JobTable([job])
        await until(lambda: job.state is JobState.RUNNING)
        table.comm.from_frontend({"type": "cancel", "k": 0})
        await until(lambda: job.state.finished)
        xp.close()
        return job

    job = asyncio.run(main())
    failed = json.loads(job.paths.failed.read_text())
    assert failed["reason"] == "cancelled"


def test_updates_are_coalesced(workdir):
    """Hundreds of job changes give a few messages, never two within the interval."""
    n = 300

    async def main():
        loop = asyncio.get_running_loop()
        xp = experiment(workdir, "burst", run_mode=RunMode.DRY_RUN)
        table = JobTable(scheduler=xp.scheduler)
        notifications = []
        xp.scheduler.listeners.append(notifications.append)
        flush_times: list[float] = []
        flush = table._coalescer.flush
        table._coalescer.flush = lambda: (flush_times.append(loop.time()), flush())
        start = loop.time()
        for i in range(n):
            Fail.C(code=i).submit()
        # Every job told its last state (a dry run leaves them unscheduled).
        await until(lambda: len(xp.jobs) == n
                    and all(j.state is JobState.UNSCHEDULED for j in xp.jobs)
                    and len(notifications) >= 2 * n)
        end = loop.time()
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        return table, notifications, flush_times, end - start

    table, notifications, flush_times, elapsed = asyncio.run(main())
    patches = [u["patch"] for u in table.comm.updates() if "patch" in u]
    assert len(notifications) >= 2 * n  # waiting, then unscheduled (dry run)
    assert 1 <= len(patches) <= table.flushes == len(flush_times)
    # One comm message per flush: rows and counts together.
    sent = [m for m in table.comm.messages if m[0] == "comm_msg"]
    assert len(sent) <= table.flushes
    # At most one flush per interval: the timer is armed once for many marks.
    assert table.flushes <= 2 + elapsed / UPDATE_INTERVAL
    gaps = [b - a for a, b in zip(flush_times, flush_times[1:])]
    assert all(gap >= UPDATE_INTERVAL * 0.99 for gap in gaps), gaps
    rows = replay(patches)
    assert len(rows) == n and {r["state"] for r in rows.values()} == {"unscheduled"}
    table.close()


class _Service:
    id = "board"

    def __init__(self):
        self.state = "RUNNING"
        self.url = "http://127.0.0.1:1/board"

    def description(self):
        return "a board"


def test_experiment_view_counts_services_and_status(workdir):
    """The experiment view syncs counts by state, its services and the run status."""

    async def main():
        xp = experiment(workdir, "xpview")
        view = ExperimentView(xp)
        xp.add_service(_Service())
        Fail.C(code=1).submit()
        Fail.C(code=2).submit()
        await until(lambda: all(j.state.finished for j in xp.jobs))
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        counts = dict(view.counts)
        xp.close()
        view.flush()
        return xp, view, counts

    xp, view, counts = asyncio.run(main())
    assert counts["error"] == 2 and sum(counts.values()) == 2
    assert view.name == "xpview" and view.workspace == str(workdir)
    assert view.run_id == xp.run_path.name
    assert view.services == [{"id": "board", "description": "a board", "state": "running",
                              "url": "http://127.0.0.1:1/board", "error": None}]
    assert view.status == "closed"
    assert len(replay(view.comm.table_messages())) == 2
    view.close()
