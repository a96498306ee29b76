"""Metrics in the job table: last values per metric, live, coalesced; cancelled counted apart."""

from __future__ import annotations

import asyncio

import pytest
from widget_helpers import comms, importable_tasks, replay, until  # noqa: F401 - fixtures
from widget_tasks import Curves, Fail

from xpm_nb import experiment, tag
from xpm_nb.scheduler.follow import MetricsLog, metrics_log
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets import JobTable
from xpm_nb.widgets.rows import JobTableState, decode_table, encode_table, job_row
from xpm_nb.widgets.updates import UPDATE_INTERVAL

pytestmark = pytest.mark.usefixtures("comms")


def unrun_jobs(path, n: int) -> list[Job]:
    workspace = Workspace(WorkspaceSettings(path))
    return [Job(Fail.C(code=i), workspace=workspace) for i in range(n)]


def log_event(job, nth: int, step: int, **values) -> None:
    """Apply a metrics event as the scheduler's follower does."""
    record = {"event_type": "JobMetricsEvent", "step": step, "metrics": values,
              "timestamp": 1000.0 + nth}
    metrics_log(job).apply(job, record, nth)


class TestRows:
    def test_rows_carry_the_last_metrics_and_names_come_in_order(self, tmp_path):
        jobs = unrun_jobs(tmp_path / "ws", 3)
        state = JobTableState(jobs)
        state.baseline()
        log_event(jobs[1], 0, 0, loss=0.5)
        log_event(jobs[1], 1, 1, loss=0.25, acc=0.7)
        state.mark(jobs[1])
        patch = state.patch()
        assert patch["metric_names"] == ["loss", "acc"]
        (row,) = patch["rows"]
        # A row the view has: only what changed (no id), merged by the view; the
        # metrics as values in metric_names order.
        assert "id" not in row and row["metrics"] == [0.25, 0.7] and row["step"] == 1
        assert set(row) == {"k", "metrics", "step"}
        log_event(jobs[2], 0, 0, acc=0.1)  # not every name: an object
        state.mark(jobs[2])
        assert state.patch()["rows"][0]["metrics"] == {"acc": 0.1}
        assert state.patch() is None  # nothing new

    def test_compact_table_round_trip_with_metrics(self, tmp_path):
        jobs = unrun_jobs(tmp_path / "ws", 3)
        log_event(jobs[0], 0, 3, loss=0.1, acc=0.9)
        log_event(jobs[2], 0, 5, loss=0.3)  # not every metric: an object
        rows = [job_row(job, k) for k, job in enumerate(jobs)]
        table = encode_table(rows, ["code"], ["loss", "acc"])
        assert table["rows"][0][12] == [0.1, 0.9] and table["rows"][0][13] == 3
        assert table["rows"][2][12] == {"loss": 0.3}
        assert len(table["rows"][1]) < 12 or table["rows"][1][12:] == []  # defaults left out
        decoded = decode_table(table, ["code"], ["loss", "acc"])
        assert [(r["metrics"], r["step"]) for r in decoded] == [(r["metrics"], r["step"]) for r in rows]

    def test_a_new_attempt_starts_its_metrics_over(self, tmp_path):
        (job,) = unrun_jobs(tmp_path / "ws", 1)
        log_event(job, 0, 7, loss=0.1)
        log = metrics_log(job)
        log.apply(job, {"event_type": "JobStateChangedEvent", "state": "running"}, 1)
        assert log.attempt == 1 and log.last == {} and log.step is None
        # A new follower reads the file from its start: what was applied is skipped.
        assert not log.apply(job, {"event_type": "JobMetricsEvent", "step": 7,
                                    "metrics": {"loss": 0.1}}, 0)
        assert log.last == {}

    def test_cancelled_jobs_are_counted_apart_from_failed_ones(self, tmp_path):
        jobs = unrun_jobs(tmp_path / "ws", 3)
        for job, reason in zip(jobs, ("cancelled", "RuntimeError: boom", None)):
            job.state = JobState.ERROR if reason else JobState.DONE
            job.failure_reason = reason
        state = JobTableState(jobs)
        state.baseline()
        counts = state.counts()
        assert (counts["cancelled"], counts["error"], counts["done"]) == (1, 1, 1)

    def test_log_auto_opens_the_stream_that_has_lines(self, tmp_path):
        (job,) = unrun_jobs(tmp_path / "ws", 1)
        job.path.mkdir(parents=True)
        job.stdout.write_text("only stdout\n")
        state = JobTableState([job])
        reply = state.handle({"type": "log", "k": 0, "stream": "auto"})
        assert reply["stream"] == "out" and "only stdout" in reply["text"]
        job.stderr.write_text("an error\n")
        reply = state.handle({"type": "log", "k": 0, "stream": "auto"})
        assert reply["stream"] == "err" and "an error" in reply["text"]


def test_metrics_only_jobs_reach_the_table_live(workdir, tmp_path):
    """A job that logs only metrics: its values come while it runs, in a few coalesced messages."""
    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "metrics")
        table = JobTable(xp.jobs, scheduler=xp.scheduler)
        held = Curves.C(lr=tag(1.0), steps=6, hold=3, gate=gate).submit().__xpm__.job
        Curves.C(lr=tag(2.0), steps=3).submit()
        await until(lambda: metrics_log(held).step == 2 if "metrics_log" in held.__dict__ else False)
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        live = replay(table.comm.table_messages())
        gate.touch()
        await until(lambda: all(j.state.finished for j in xp.jobs))
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        xp.close()
        frontend = table.comm
        table.close()
        return table, frontend, live

    table, frontend, live = asyncio.run(main())
    # While held at step 2: the running job's last values are in the view.
    assert live[0]["state"] == "running" and live[0]["step"] == 2
    assert live[0]["metrics"] == {"loss": 1 / 3, "accuracy": 0.2}
    rows = replay(frontend.table_messages())
    assert rows[0]["step"] == 5 and rows[1]["step"] == 2
    assert rows[1]["metrics"]["loss"] == pytest.approx(1 / 5)
    assert table.metric_names == ["loss", "accuracy"]
    # Coalesced: each flush is one message, far fewer than the 9 events followed.
    patches = [u for u in frontend.updates() if "patch" in u]
    assert 0 < len(patches) <= table.flushes


def test_jobs_found_done_get_their_metrics_from_disk(workdir):
    """A job done in an earlier run is never followed: its metrics are read once from its folder."""

    async def run(name):
        xp = experiment(workdir, name)
        Curves.C(lr=tag(0.5), steps=3).submit()
        await until(lambda: all(j.state.finished for j in xp.jobs))
        return xp

    async def main():
        (await run("first")).close()
        xp = await run("second")  # found done: not run, not followed
        (job,) = xp.jobs
        assert "metrics_log" not in job.__dict__
        table = JobTable(xp.jobs, scheduler=xp.scheduler)
        await until(lambda: replay(table.comm.table_messages())[0].get("step") == 2, timeout=20)
        xp.close()
        row = replay(table.comm.table_messages())[0]
        table.close()
        return row

    row = asyncio.run(main())
    assert row["metrics"] == {"loss": 1 / 2, "accuracy": pytest.approx(0.1)}


def test_metrics_log_is_a_plain_object():
    assert MetricsLog().last == {} and MetricsLog().attempt == 0


def test_the_follower_keeps_good_metrics_and_skips_bad_ones(tmp_path, caplog):
    """Metric events are input from the job: a bad one is skipped (one warning), never fatal."""
    from xpm_nb.scheduler.follow import JobFollower

    (job,) = unrun_jobs(tmp_path / "ws", 1)
    notified = []
    follower = JobFollower(job, notified.append)
    good = {"event_type": "JobMetricsEvent", "step": 1, "metrics": {"loss": 0.5}}
    bad = [{"event_type": "JobMetricsEvent", "step": 2, "metrics": {"loss": "NaN"}},
           {"event_type": "JobMetricsEvent", "metrics": ["not", "a", "dict"]},
           {"event_type": "JobMetricsEvent", "metrics": {"x" * 500: 1.0}}]
    running = {"event_type": "JobStateChangedEvent", "state": "running"}
    diverged = {"event_type": "JobMetricsEvent", "step": 1, "metrics": {"loss": float("nan"),
                                                                        "acc": 0.1}}
    follower._apply([running, good, *bad, diverged], [])
    log = job.__dict__["metrics_log"]
    # NaN is left out (it is no JSON for a view), the event's other values kept.
    assert (log.attempt, log.last, log.step) == (1, {"loss": 0.5, "acc": 0.1}, 1)
    assert notified == [job]
    assert len([r for r in caplog.records if "skipping bad events" in r.getMessage()]) == 1
    # A second follower (a new run) reading the file from its start applies nothing twice.
    again = JobFollower(job, notified.append)
    again._apply([running, good], [])
    assert (log.attempt, log.last) == (1, {"loss": 0.5, "acc": 0.1}) and len(notified) == 1
