"""What the driver trusts in a job folder (issue #18): params.json, events, pid files.

- ``params.json`` / ``classes.pkl`` are written again at every launch: a Meta
  value changed after a failure is used, a truncated file is replaced, a file
  planted in a not-yet-run folder is not what runs.
- Progress events are input: a huge or non-integer level, a NaN progress, an
  over-long line are skipped (one warning), never fail the job.
- A stale pid file naming a live unrelated process (a reused pid) is not
  "running", and cancelling never signals that process.

The tasks are defined here: job processes import this module (on PYTHONPATH).
"""

from __future__ import annotations

import json
import logging
import pickle
import socket
import subprocess
import time
from pathlib import Path

import pytest
from relhelpers import isolated_env, wait_until  # noqa: F401 - autouse fixture

from support.paths import on_pythonpath
from xpm_nb import Meta, Param, Task, experiment, field
from xpm_nb.scheduler.jobs import (
    JobPaths,
    JobState,
    live_pid,
    process_identity,
    process_starttime,
    read_disk_state,
)
from xpm_nb.scheduler.submit import job_of


@pytest.fixture(autouse=True)
def _tasks_importable(isolated_env, monkeypatch):  # noqa: F811 - the fixture, used here
    """Job processes import this module, which imports relhelpers (and ``support``)."""
    here = Path(__file__).resolve().parent
    on_pythonpath(monkeypatch, here, here.parent)


class MayFail(Task):
    """Fails when its Meta ``fail`` is true (Meta: not part of the job's identity)."""

    value: Param[int]
    fail: Meta[bool] = field(default=False)

    def execute(self):
        if self.fail:
            raise RuntimeError("asked to fail")


class BadEvents(Task):
    """Writes bad progress events (public API and raw lines), then a good one."""

    value: Param[int]

    def execute(self):
        from xpm_nb.run import progress as p

        p.progress(0.5, level=100_000)  # the audit's 3_000_000 cost ~1 GB: the same bug
        p._last.clear()
        p.progress(0.5, level="x")  # noqa - not an int: recorded .done job read as failed
        p._last.clear()
        p.progress(float("nan"))
        events = p._events
        raw = [
            {"event_type": "JobProgressEvent", "level": 1e9, "progress": 0.1},
            {"event_type": "JobProgressEvent", "level": True, "progress": 0.1},
            {"event_type": "JobProgressEvent", "level": 0, "progress": "x"},
            {"event_type": "JobProgressEvent", "level": 0, "progress": -3},
            {"event_type": "JobProgressEvent", "level": 0, "progress": 0.1, "desc": {"a": 1}},
            [1, 2, 3],
        ]
        with events.open("a") as f:
            for record in raw:
                f.write(json.dumps(record) + "\n")
            f.write('{"event_type": "JobProgressEvent", "desc": "' + "x" * (1 << 20) + '"}\n')
            f.write("not json\n")
        time.sleep(0.6)  # the driver follows the file while the job runs
        p._last.clear()
        p.progress(0.25, level=1, desc="good")
        time.sleep(0.3)


class After(Task):
    """Depends on a BadEvents job."""

    prev: Param[BadEvents]

    def execute(self):
        pass


def _job_path(ws: Path, config) -> Path:
    return ws / "jobs" / config.__xpmtype__.identifier / config.__identifier__().hex()


# --- 2. params.json is written at every launch --------------------------------


class TestParamsRewritten:
    def test_meta_changed_after_a_failure_is_used(self, workdir):
        with experiment(workdir, "meta-1") as xp:
            MayFail.C(value=1, fail=True).submit()
        assert xp.failed
        with experiment(workdir, "meta-2"):
            out = MayFail.C(value=1, fail=False).submit()
        job = job_of(out)
        assert job.state is JobState.DONE, job.failure_reason
        params = json.loads((job.path / "params.json").read_text())
        assert params["objects"][-1]["fields"]["fail"] is False

    def test_truncated_params_json_is_replaced(self, workdir):
        config = MayFail.C(value=2)
        path = _job_path(workdir, config)
        path.mkdir(parents=True)
        (path / "params.json").write_text('{"workspace": "/x", "objects": [{"mod')
        with experiment(workdir, "truncated"):
            out = MayFail.C(value=2).submit()
        job = job_of(out)
        assert job.state is JobState.DONE, job.failure_reason
        assert json.loads((path / "params.json").read_text())["objects"]

    def test_planted_classes_pkl_is_not_what_runs(self, workdir, tmp_path):
        """A classes.pkl planted in a not-yet-run folder is never loaded (it could run code)."""
        marker = tmp_path / "planted-code-ran"
        config = MayFail.C(value=3)
        path = _job_path(workdir, config)
        path.mkdir(parents=True)

        class Planted:
            def __reduce__(self):
                return (Path.touch, (marker,))

        (path / "classes.pkl").write_bytes(pickle.dumps(Planted()))
        with experiment(workdir, "planted"):
            out = MayFail.C(value=3).submit()
        job = job_of(out)
        assert job.state is JobState.DONE, job.failure_reason
        assert not marker.exists()
        assert not (path / "classes.pkl").exists()  # not needed: removed


# --- 6. events are validated ---------------------------------------------------


class TestBadEvents:
    def test_bad_progress_events_are_skipped_never_fatal(self, workdir, caplog):
        caplog.set_level(logging.WARNING, logger="xpm_nb.scheduler.follow")
        with experiment(workdir, "bad-events"):
            out = BadEvents.C(value=1).submit()
        job = job_of(out)
        assert job.state is JobState.DONE, job.failure_reason
        assert job.paths.done.exists() and not job.paths.failed.exists()
        status = json.loads(job.paths.status.read_text())
        assert status["state"] == "done"
        # Bounded: the level of 100_000 never made 100_000 entries.
        assert len(job.progress) <= 33
        assert job.progress[-1] == {"level": 1, "progress": 0.25, "desc": "good"}
        for entry in job.progress:
            assert type(entry["level"]) is int and 0 <= entry["progress"] <= 1
        warnings = [r for r in caplog.records if "bad events" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]

    def test_dependent_of_a_job_with_bad_events_runs(self, workdir):
        with experiment(workdir, "bad-events-dep"):
            first = BadEvents.C(value=2).submit()
            second = After.C(prev=first).submit()
        assert job_of(first).state is JobState.DONE, job_of(first).failure_reason
        assert job_of(second).state is JobState.DONE, job_of(second).failure_reason


# --- 7. a stale pid file naming a live unrelated process -----------------------


@pytest.fixture
def bystander():
    """A live process unrelated to any job, in its own session (its own group)."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    wait_until(lambda: process_starttime(proc.pid) is not None, 10, "sleep started")
    yield proc
    proc.kill()
    proc.wait()


def _stale_pid_file(paths: JobPaths, pid: int, **fields) -> None:
    paths.path.mkdir(parents=True, exist_ok=True)
    paths.pid.write_text(json.dumps({"type": "local", "pid": pid, **fields}))


class TestStalePid:
    def test_reused_pid_reads_as_not_running(self, tmp_path, bystander):
        paths = JobPaths(tmp_path / "job", "task")
        identity = process_identity()  # ours: another process's identity
        _stale_pid_file(paths, bystander.pid, host=socket.gethostname(),
                        started=time.time() - 3600, **identity)
        state, info = read_disk_state(paths)
        assert state is None and info == {"stale_pid": bystander.pid}
        assert live_pid(json.loads(paths.pid.read_text())) is None

    def test_older_pid_file_with_only_started_time(self, tmp_path, bystander):
        """Only "started" (an earlier xpm_nb): a process begun after it did not write it."""
        paths = JobPaths(tmp_path / "job", "task")
        _stale_pid_file(paths, bystander.pid, host=socket.gethostname(),
                        started=time.time() - 3600)
        assert read_disk_state(paths)[0] is None

    def test_reference_pid_file_keeps_the_live_pid_check(self, tmp_path, bystander):
        paths = JobPaths(tmp_path / "job", "task")
        _stale_pid_file(paths, bystander.pid)  # the reference's: no identity fields
        assert read_disk_state(paths)[0] is JobState.RUNNING
        # The right identity: running.
        _stale_pid_file(paths, bystander.pid, **process_identity(bystander.pid))
        assert read_disk_state(paths)[0] is JobState.RUNNING

    def test_cancel_never_signals_the_process_of_a_stale_pid(self, workdir, tmp_path,
                                                             bystander):
        from reltasks import Gate

        log, release = tmp_path / "runs.log", tmp_path / "release"
        config = Gate.C(name="g", log=log, release=release, limit=60)
        paths = JobPaths(_job_path(workdir, config), "gate")
        _stale_pid_file(paths, bystander.pid, host=socket.gethostname(),
                        started=time.time() - 3600, **process_identity())
        xp = experiment(workdir, "stale-pid")
        try:
            out = Gate.C(name="g", log=log, release=release, limit=60).submit()
            job = job_of(out)
            wait_until(lambda: job.state is JobState.RUNNING, 30, "job running")
            # It was launched (its own process), not "followed" through the stale pid.
            wait_until(lambda: log.exists() and "start g" in log.read_text(), 30, "gate start")
            assert job.cancel()
            wait_until(lambda: job.state.finished, 30, "job cancelled")
        finally:
            release.touch()
            xp.close()
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        time.sleep(0.2)
        assert bystander.poll() is None, "the unrelated process was signalled"

    def test_cli_kill_never_signals_the_process_of_a_stale_pid(self, workdir, bystander):
        from xpm_nb.experiments.workspace_jobs import JobInfo, kill_job

        path = workdir / "jobs" / "x.task" / ("0" * 64)
        paths = JobPaths(path, "task")
        _stale_pid_file(paths, bystander.pid, host=socket.gethostname(),
                        started=time.time() - 3600, **process_identity())
        info = JobInfo(path, "x.task", path.name, "running", {}, set(), None, bystander.pid, None)
        kill_job(info, grace=0.5)
        time.sleep(0.2)
        assert bystander.poll() is None, "the unrelated process was signalled"
