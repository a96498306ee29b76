"""Fault 4: a read-only job folder, a full disk, truncated files.

Tests run as root in CI, and root ignores file permissions: a folder is made
read-only with ``chattr +i`` (immutable), or else a read-only bind mount; a
full disk is a small tmpfs mounted for the test. Without these (no root, no
mount permission) the tests skip locally and fail in CI (``need``).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from relhelpers import (
    Driver,
    assert_workspace_consistent,
    isolated_env,  # noqa: F401 - autouse fixture
    log_lines,
    need,
    wait_until,
)
from reltasks import Append, Gate, SizedWrite

from support.failures import assert_failures_logged, failed_experiment
from xpm_nb import experiment
from xpm_nb.errors import JobFailedError, WorkspaceError
from xpm_nb.experiments.workspace_jobs import workspace_experiments, workspace_jobs
from xpm_nb.scheduler.jobs import JobState, read_disk_state
from xpm_nb.scheduler.runlock import lock_is_held
from xpm_nb.scheduler.workspace import RunMode, Workspace, WorkspaceSettings


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def read_only(folder: Path, tree: bool = True):
    """Make ``folder`` read-only even for root: ``chattr +i`` (of the whole tree, or of
    the folder alone: no file created or removed in it, its files still writable),
    else a read-only bind mount (always the whole tree)."""
    undo = None
    flags = ["-R"] if tree else []
    if subprocess.run(["chattr", *flags, "+i", str(folder)], capture_output=True).returncode == 0:
        undo = ["chattr", *flags, "-i", str(folder)]
    elif subprocess.run(["mount", "--bind", str(folder), str(folder)],
                        capture_output=True).returncode == 0:
        undo = ["umount", str(folder)]
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
    if undo is None or _writable(folder):
        if undo:
            subprocess.run(undo, capture_output=True)
        need(False, "cannot make a folder read-only for root (chattr +i, mount --bind)")
    try:
        yield undo[0]  # "chattr" or "umount"
    finally:
        subprocess.run(undo, check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted for the test (a disk that fills up)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    need(result.returncode == 0, f"cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` with a file, to the last byte."""
    filler = folder / "filler.bin"
    chunk = b"f" * 65536
    with open(filler, "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
    with open(filler, "ab", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"f")
    return filler


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


class TestReadOnlyFolder:
    def test_read_only_job_folder_fails_clearly_and_changes_nothing(self, workdir, tmp_path):
        """A job whose folder cannot be written fails naming the file and the error;
        the folder is left as it was; once writable again, the job runs."""
        log = tmp_path / "runs.log"
        with experiment(workdir, "ro", run_mode=RunMode.GENERATE_ONLY):
            Append.C(value=1, log=log).submit()
        [folder] = list((workdir / "jobs" / "reltasks.append").iterdir())
        before = _folder_files(folder)
        with read_only(folder):
            with experiment(workdir, "ro") as xp:
                Append.C(value=1, log=log).submit()
            info = failed_experiment(xp)
            assert _folder_files(folder) == before
        message = str(info.value)
        assert str(folder) in message and _denied(message), message
        assert not log.exists()
        assert read_disk_state(_paths(folder))[0] is None
        with experiment(workdir, "ro"):
            done = Append.C(value=1, log=log).submit()
        assert done.__xpm__.job.state is JobState.DONE
        assert len(log_lines(log)) == 1
        assert_workspace_consistent(workdir)

    def test_folder_read_only_when_the_job_ends_is_never_marked_done(self, workdir, tmp_path):
        """The folder turns read-only while the job runs: its .done cannot be written,
        so the job is failed (in memory) and nothing claims it done or running."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        xp = experiment(workdir, "ro-end")
        try:
            task = Gate.C(name="g", log=log, release=release)
            task.submit()
            job = task.__xpm__.job
            wait_until(job.paths.pid.exists, 60, "the job running")
            with read_only(job.path, tree=False) as how:
                release.touch()
                with pytest.raises(JobFailedError) as info:
                    task.wait(timeout=60, check=True)
                assert _denied(str(info.value)), str(info.value)
                assert not job.paths.done.exists()
                assert read_disk_state(job.paths)[0] is None  # not done, not running
        finally:
            xp.close()
        assert job.state is JobState.ERROR
        if how == "chattr":  # its log stays writable: the job says why it has no result
            assert "cannot record" in job.stderr.read_text(), job.stderr.read_text()
        release.unlink()
        release.touch()
        with experiment(workdir, "ro-end"):
            Gate.C(name="g", log=log, release=release).submit()
        assert [x[0] for x in log_lines(log)] == ["start", "end", "start", "end"]
        assert_workspace_consistent(workdir)


def _denied(message: str) -> bool:
    return any(w in message.lower() for w in ("not permitted", "read-only file system"))


def _paths(folder: Path):
    from xpm_nb.scheduler.jobs import JobPaths

    return JobPaths(folder, folder.parent.name.rsplit(".", 1)[-1])


class TestFullDisk:
    def test_task_filling_the_disk_fails_with_no_space_and_reruns_later(self, small_disk,
                                                                         tmp_path):
        """A task that fills the disk: failed with 'No space left on device', no marker
        half-written; with space again, the same job runs to the end."""
        ws = small_disk / "ws"
        size_file = tmp_path / "size"
        size_file.write_text(str(4 * 1024 * 1024))
        xp = experiment(ws, "full")
        try:
            task = SizedWrite.C(name="a", size_file=size_file)
            task.submit()
            with pytest.raises(JobFailedError) as info:
                task.wait(timeout=60, check=True)
            job = task.__xpm__.job
            assert "No space left on device" in str(info.value), str(info.value)
            assert not job.paths.done.exists()
            assert read_disk_state(job.paths)[0] in (None, JobState.ERROR)
            assert_workspace_consistent(ws, stale_pid_ok=True)
            Path(task.out).unlink()  # space again
        finally:
            xp.close()
        size_file.write_text("10")
        with experiment(ws, "full"):
            again = SizedWrite.C(name="a", size_file=size_file)
            again.submit()
        assert again.__xpm__.job.state is JobState.DONE
        assert Path(again.out).read_bytes() == b"x" * 10
        assert_workspace_consistent(ws)

    def test_full_disk_before_the_job_is_prepared(self, small_disk, tmp_path):
        """The disk is full when a job is submitted: a clear 'No space' error, no partial
        params.json; once space is freed, the job runs."""
        ws = small_disk / "ws"
        log = tmp_path / "runs.log"
        xp = experiment(ws, "full-before")
        filler = _fill(small_disk)
        try:
            with pytest.raises((OSError, JobFailedError)) as info:
                Append.C(value=1, log=log).submit().__xpm__.task.wait(timeout=60, check=True)
            assert "No space left on device" in str(info.value), str(info.value)
            for params in ws.glob("jobs/*/*/params.json"):
                json.loads(params.read_text())  # whole, if there at all
            assert not log.exists()
        finally:
            filler.unlink()
            xp.close()
        with experiment(ws, "full-before"):
            done = Append.C(value=1, log=log).submit()
        assert done.__xpm__.job.state is JobState.DONE
        assert len(log_lines(log)) == 1
        assert_workspace_consistent(ws)

    def test_closing_an_experiment_on_a_full_disk_reports_the_failed_jobs(
            self, small_disk, tmp_path, caplog):
        """The disk is full when the experiment closes: the with block raises the
        WorkspaceError naming the unwritten status.json and its OSError, the failed job
        is logged and listed by FailedExperiment; the experiment is closed all the same
        (not current, its run's lock released)."""
        ws = small_disk / "ws"
        size_file = tmp_path / "size"
        size_file.write_text(str(4 * 1024 * 1024))
        try:
            with pytest.raises(WorkspaceError, match="No space left on device") as info:
                with experiment(ws, "full-close") as xp:
                    SizedWrite.C(name="a", size_file=size_file).submit()
            # The job's partial output filled the disk: the final write found no space.
            status_written = json.loads((xp.run_path / "status.json").read_text())
            assert status_written["status"] == "running"
            message = str(info.value)
            assert str(xp.run_path / "status.json") in message, message
            assert isinstance(info.value.__cause__, OSError)
            assert "No space left on device" in assert_failures_logged(caplog, xp)[0]
            failed_experiment(xp, match="No space left on device")
        finally:
            left_open, experiment.CURRENT = experiment.CURRENT, None
            for out in ws.glob("jobs/*/*/data.bin"):
                out.unlink()
        assert left_open is None
        assert xp.closed
        assert lock_is_held(xp.run_path / "lock") is False
        [listed] = workspace_experiments(Workspace(WorkspaceSettings(ws)))
        assert listed.status == "crashed"  # "running" on disk, but nobody has it open


class TestTruncatedFiles:
    def test_truncated_failed_marker_is_read_as_failed_and_rerun(self, workdir, tmp_path):
        """A truncated .failed marker: the job reads as failed (reason: unreadable);
        a new submission runs it again."""
        log = tmp_path / "runs.log"
        with experiment(workdir, "trunc-failed", run_mode=RunMode.GENERATE_ONLY):
            Append.C(value=1, log=log).submit()
        [folder] = list((workdir / "jobs" / "reltasks.append").iterdir())
        (folder / "append.failed").write_text('{"code": 1, "rea')
        state, info = read_disk_state(_paths(folder))
        assert state is JobState.ERROR and "unreadable" in info["reason"]
        [listed] = workspace_jobs(Workspace(WorkspaceSettings(workdir)))
        assert listed.state == "error"
        with experiment(workdir, "trunc-failed"):
            Append.C(value=1, log=log).submit()
        assert read_disk_state(_paths(folder))[0] is JobState.DONE
        assert len(log_lines(log)) == 1
        assert_workspace_consistent(workdir)

    def test_truncated_status_files_and_torn_jobs_jsonl_are_tolerated(self, workdir, tmp_path):
        """Truncated status.json files (job's and run's) and a torn jobs.jsonl line:
        listings still give each job's state from its markers; a new run works."""
        log = tmp_path / "runs.log"
        with experiment(workdir, "status"):
            for v in range(3):
                Append.C(value=v, log=log).submit()
        for status in [*workdir.glob("jobs/*/*/.experimaestro/status.json"),
                       *workdir.glob("experiments/*/*/status.json")]:
            status.write_text(status.read_text()[:7])
        jobs_jsonl = workdir / "experiments" / "status" / "current" / "jobs.jsonl"
        with jobs_jsonl.open("a") as f:
            f.write('{"job_id": "abc", "task_')
        ws = Workspace(WorkspaceSettings(workdir))
        assert sorted(j.state for j in workspace_jobs(ws)) == ["done"] * 3
        [xp_info] = workspace_experiments(ws)
        assert xp_info.name == "status" and len(xp_info.jobs) == 3
        cli = subprocess.run([sys.executable, "-m", "xpm_nb.cli", "jobs", "list", "--workdir",
                              str(workdir)], capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.count("DONE") == 3, cli.stdout
        with experiment(workdir, "status"):
            for v in range(3):
                Append.C(value=v, log=log).submit()
        assert len(log_lines(log)) == 3  # done jobs not rerun
        for status in workdir.glob("jobs/*/*/.experimaestro/status.json"):
            assert json.loads(status.read_text())["state"] == "done"

    def test_truncated_pid_file_of_a_running_job_does_not_start_it_twice(self, workdir,
                                                                         tmp_path):
        """The pid file of a running job is truncated; another driver submits the job:
        it is not run twice, and that driver sees it done when it ends."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        body = """
            from reltasks import Gate
            from xpm_nb import experiment
            ws, log, release, name = sys.argv[1:5]
            with experiment(ws, name) as xp:
                xp.scheduler.listeners.append(
                    lambda job: print("state", job.name, job.state.value, flush=True))
                task = Gate.C(name="g", log=Path(log), release=Path(release))
                task.submit()
            print("final", task.__xpm__.job.state.value, flush=True)
        """
        first = Driver(body, str(workdir), str(log), str(release), "first")
        first.wait_for_line("state gate running")
        [pid_file] = list(workdir.glob("jobs/*/*/gate.pid"))
        pid_file.write_text(pid_file.read_text()[:5])
        second = Driver(body, str(workdir), str(log), str(release), "second")
        second.wait_for_line("state gate running")
        # Long enough for a second job process to give up on the job's lock, if it
        # would (it waited 5 s before), and write a false result.
        time.sleep(6)
        release.touch()
        assert first.finish()[-1] == "final done"
        assert second.finish()[-1] == "final done", second.output()
        assert not list(workdir.glob("jobs/*/*/gate.failed"))
        assert [x[0] for x in log_lines(log)] == ["start", "end"]
        assert_workspace_consistent(workdir)
