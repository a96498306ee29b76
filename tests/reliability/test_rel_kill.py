"""Fault 1: kill -9 of a job, of the driver mid-run, of a job during its final write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import fasteners
import pytest
from relhelpers import (
    Driver,
    assert_workspace_consistent,
    isolated_env,  # noqa: F401 - autouse fixture
    log_lines,
    wait_until,
)
from reltasks import Gate, KilledAtDone

from xpm_nb import experiment
from xpm_nb.errors import JobFailedError
from xpm_nb.experiments.workspace_jobs import workspace_experiments, workspace_jobs
from xpm_nb.scheduler.jobs import JobState, pid_alive, read_disk_state
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings


def _pid_of(pid_file: Path, timeout: float = 30) -> int:
    wait_until(pid_file.exists, timeout, f"{pid_file}")
    return int(json.loads(pid_file.read_text())["pid"])


class TestKillJob:
    def test_sigkilled_job_is_failed_on_disk_and_in_the_driver(self, workdir, tmp_path):
        """kill -9 of a job: failed with SIGKILL on disk and in memory, lock free, rerunnable."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        xp = experiment(workdir, "kill-job")
        try:
            task = Gate.C(name="g", log=log, release=release)
            task.submit()
            job = task.__xpm__.job
            # Killed once it runs the task (not while the process still starts).
            wait_until(lambda: log_lines(log), 60, "the task running")
            pid = int(json.loads(job.paths.pid.read_text())["pid"])
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(JobFailedError, match="SIGKILL"):
                task.wait(timeout=60, check=True)
        finally:
            xp.close()
        assert job.state is JobState.ERROR
        failed = json.loads(job.paths.failed.read_text())
        assert failed["code"] == -signal.SIGKILL and "SIGKILL" in failed["reason"]
        assert not job.paths.pid.exists() and not job.paths.done.exists()
        assert read_disk_state(job.paths)[0] is JobState.ERROR
        status = json.loads(job.paths.status.read_text())
        assert status["state"] == "error" and "SIGKILL" in status["failure_reason"]
        listed = workspace_jobs(Workspace(WorkspaceSettings(workdir)))
        assert [(j.state, "SIGKILL" in (j.reason or "")) for j in listed] == [("error", True)]
        lock = fasteners.InterProcessLock(str(job.paths.lock))
        assert lock.acquire(blocking=False), "the dead job's lock is still held"
        lock.release()
        assert_workspace_consistent(workdir)
        # A new submission of the failed job runs it again, to the end.
        release.touch()
        with experiment(workdir, "kill-job"):
            again = Gate.C(name="g", log=log, release=release)
            again.submit()
        assert again.__xpm__.job.state is JobState.DONE
        assert [line[0] for line in log_lines(log)] == ["start", "start", "end"]
        assert_workspace_consistent(workdir)


DRIVER = """
from reltasks import Append, Gate
from xpm_nb import experiment
ws, log, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
with experiment(ws, "driver") as xp:
    xp.scheduler.listeners.append(
        lambda job: print("state", job.name, job.state.value, flush=True))
    first = Append.C(value=1, log=log).submit()
    gate = Gate.C(name="g", log=log, release=release).submit()
    after = Append.C(value=2, log=log)
    after.add_dependencies(gate)
    after.submit()
    print("submitted", flush=True)
print(json.dumps({j.name + str(j.config.__dict__.get("value", "")): j.state.value
                  for j in xp.jobs}), flush=True)
"""


class TestKillDriver:
    def test_new_driver_follows_running_job_and_runs_nothing_twice(self, workdir, tmp_path):
        """kill -9 of the driver mid-run; a new driver: done jobs seen done, the running
        job followed (same process, not restarted), the queued one run once."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        args = (str(workdir), str(log), str(release))
        first = Driver(DRIVER, *args)
        try:
            wait_until(lambda: sorted(x[0] for x in log_lines(log)) == ["1", "start"], 60,
                       "the first job done and the gate running")
            first.wait_for_line("state append done")
            gate_dir = next((workdir / "jobs" / "reltasks.gate").iterdir())
            gate_pid = _pid_of(gate_dir / "gate.pid")
        finally:
            first.kill()
        assert first.proc.returncode == -signal.SIGKILL
        assert pid_alive(gate_pid), "the job died with its driver"
        # Nothing was lost: the job folders say what happened.
        gate_state, info = read_disk_state(_paths(gate_dir))
        assert gate_state is JobState.RUNNING and info["pid"] == gate_pid
        second = Driver(DRIVER, *args)
        second.wait_for_line("state gate running")  # followed while it runs
        release.touch()
        states = json.loads(second.finish()[-1])
        assert states == {"append1": "done", "gate": "done", "append2": "done"}
        lines = log_lines(log)
        assert sorted(x[0] for x in lines) == ["1", "2", "end", "start"], lines
        ends = [x for x in lines if x[0] == "end"]
        assert int(ends[0][2]) == gate_pid, "the gate was restarted instead of followed"
        assert_workspace_consistent(workdir)
        assert not list(workdir.glob("jobs/*/*/*.pid"))

    def test_driver_and_job_killed_then_new_driver_reruns_the_job_once(self, workdir, tmp_path):
        """kill -9 of the driver and of its running job (a machine crash): the stale pid
        file is not taken for a running job; a new driver runs the job again, to the end."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        args = (str(workdir), str(log), str(release))
        first = Driver(DRIVER, *args)
        try:
            first.wait_for_line("state gate running")
            wait_until(lambda: "start" in [x[0] for x in log_lines(log)], 60, "the gate's task")
            gate_dir = next((workdir / "jobs" / "reltasks.gate").iterdir())
            gate_pid = _pid_of(gate_dir / "gate.pid")
        finally:
            first.kill()
        os.kill(gate_pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(gate_pid), 30, "the job's death")
        assert read_disk_state(_paths(gate_dir))[0] is None  # neither running nor finished
        release.touch()
        states = json.loads(Driver(DRIVER, *args).finish()[-1])
        assert states == {"append1": "done", "gate": "done", "append2": "done"}
        lines = log_lines(log)
        assert sorted(x[0] for x in lines) == ["1", "2", "end", "start", "start"], lines
        assert_workspace_consistent(workdir)

    def test_crashed_driver_run_is_not_reported_running(self, workdir, tmp_path):
        """kill -9 of the driver: its run's status.json still says "running" (nobody
        could change it), but the run's lock died with the driver, so listings say
        crashed; while the driver lived they said running."""
        log, release = tmp_path / "runs.log", tmp_path / "release"
        ws = Workspace(WorkspaceSettings(workdir))
        driver = Driver(DRIVER, str(workdir), str(log), str(release))
        try:
            driver.wait_for_line("state gate running")
            [live] = workspace_experiments(ws)
            assert live.status == "running"
        finally:
            driver.kill()
        release.touch()
        [info] = workspace_experiments(ws)
        run_status = json.loads((workdir / "experiments" / "driver" / "current"
                                 / "status.json").read_text())
        assert run_status["status"] == "running"  # the file is as the driver left it
        assert info.status == "crashed"
        cli = subprocess.run([sys.executable, "-m", "xpm_nb.cli", "experiments", "list",
                              "--workdir", str(workdir), "--json"],
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert [e["status"] for e in json.loads(cli.stdout)] == ["crashed"]


def _paths(folder: Path):
    from xpm_nb.scheduler.jobs import JobPaths

    return JobPaths(folder, folder.parent.name.rsplit(".", 1)[-1])


class TestKillDuringFinalWrite:
    def test_job_killed_between_done_temp_file_and_rename(self, workdir):
        """SIGKILL after the .done temp file is written, before its rename: no .done,
        the job is failed with the signal, its output whole."""
        size = 8 * 1024 * 1024
        xp = experiment(workdir, "final-write")
        try:
            task = KilledAtDone.C(size=size)
            task.submit()
            with pytest.raises(JobFailedError, match="SIGKILL"):
                task.wait(timeout=60, check=True)
        finally:
            xp.close()
        job = task.__xpm__.job
        assert not job.paths.done.exists()
        assert "SIGKILL" in json.loads(job.paths.failed.read_text())["reason"]
        assert Path(task.out).stat().st_size == size
        assert read_disk_state(job.paths)[0] is JobState.ERROR
        # The temp file is left, hidden and never taken for the marker.
        leftovers = [p.name for p in job.path.iterdir() if p.name.endswith(".tmp")]
        assert all(n.startswith(".killedatdone.done.") for n in leftovers), leftovers
        assert_workspace_consistent(workdir)

    @pytest.mark.parametrize("when", ["mid-write", "before-rename"])
    def test_atomic_write_killed_keeps_the_old_file_whole(self, tmp_path, when):
        """kill -9 of a process inside atomic_write (params.json, a marker): the file
        keeps its old content or gets the new one, never a part."""
        target = tmp_path / "params.json"
        old = json.dumps({"version": 3, "objects": [{"id": 1}] * 100})
        target.write_text(old)
        script = textwrap.dedent(f"""
            import json, os, signal
            from pathlib import Path
            from xpm_nb.core import params
            when = {when!r}
            if when == "mid-write":
                real_fdopen = os.fdopen
                class Half:
                    def __init__(self, f): self.f = f
                    def __enter__(self): return self
                    def __exit__(self, *a): self.f.close()
                    def write(self, data):
                        self.f.write(data[: len(data) // 2]); self.f.flush()
                        os.kill(os.getpid(), signal.SIGKILL)
                os.fdopen = lambda fd, mode: Half(real_fdopen(fd, mode))
            else:
                real_replace = os.replace
                def replace(src, dst):
                    os.kill(os.getpid(), signal.SIGKILL)
                os.replace = replace
            new = json.dumps({{"version": 3, "objects": [{{"id": 2}}] * 200_000}})
            params.atomic_write(Path({str(target)!r}), new)
        """)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert target.read_text() == old
        tmp = [p for p in tmp_path.iterdir() if p != target]
        assert len(tmp) == 1 and tmp[0].name.startswith(".params.json.")
        assert tmp[0].stat().st_size > 0  # the kill did land inside the write
