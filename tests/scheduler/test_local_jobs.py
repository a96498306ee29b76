"""Jobs run by the direct launcher, end to end with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from support.failures import assert_failures_logged, failed_experiment
from support.paths import tasks_importable
from support.waiting import wait_until
from xpm_nb import experiment
from xpm_nb.errors import DependencyFailedError, JobFailedError
from xpm_nb.scheduler.jobs import JobState

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Add, Sleep, Write  # noqa: E402

HERE = Path(__file__).parent



class TestDag:
    def test_dag_runs_in_order_and_results_are_on_disk(self, workdir, tmp_path):
        """Dependencies through task outputs run first; the sum sees their values."""
        log = tmp_path / "runs.log"
        with experiment(workdir, "dag") as xp:
            a = Write.C(value=2, log=log).submit()
            b = Write.C(value=3, log=log).submit()
            total = Add.C(inputs=[a, b]).submit()
        assert Path(total.out).read_text() == "5"
        assert len(log.read_text().splitlines()) == 2
        job = total.__xpm__.job
        assert job.state is JobState.DONE
        assert job.paths.done.exists() and not job.paths.pid.exists()
        assert {d.identifier for d in job.dependencies} == {
            a.__xpm__.task.__xpm__.job.identifier, b.__xpm__.task.__xpm__.job.identifier
        }
        # Layout of shared/specs/workspace.md
        assert (workdir / ".__experimaestro__").exists()
        assert job.path == workdir / "jobs" / "tasks.add" / total.__identifier__().hex()
        run = xp.run_path
        lines = [json.loads(x) for x in (run / "jobs.jsonl").read_text().splitlines()]
        assert {x["task_id"] for x in lines} == {"tasks.write", "tasks.add"}
        assert (workdir / "experiments" / "dag" / "current").resolve() == run.resolve()

    def test_done_job_is_never_rerun(self, workdir, tmp_path):
        """A second experiment over the same configs finds them done and runs nothing."""
        log = tmp_path / "runs.log"
        for _ in range(2):
            with experiment(workdir, "again"):
                Write.C(value=7, log=log).submit()
        assert log.read_text().count("7 ") == 1


class TestFailures:
    def test_failed_job_and_its_dependents(self, workdir, tmp_path, caplog):
        """A raising job is failed with its traceback; its dependents never run. The
        experiment ends normally (logging the failure); raise_if_failed() lists it."""
        log = tmp_path / "runs.log"
        with experiment(workdir, "fail") as xp:
            a = Write.C(value=1, log=log).submit()
            bad = Add.C(inputs=[a], fail=True).submit()
            after = Add.C(inputs=[a, a]).submit()  # independent of the failure
        assert xp.closed and xp.failed
        assert xp.failed_jobs() == [bad.__xpm__.job]
        [warning] = assert_failures_logged(caplog, xp)
        assert "asked to fail" in warning
        info = failed_experiment(xp)
        text = str(info.value)
        assert "asked to fail" in text and "add" in text
        job = bad.__xpm__.job
        failed = json.loads(job.paths.failed.read_text())
        assert failed["code"] == 1 and "ValueError" in failed["reason"]
        assert "ValueError: asked to fail" in job.stderr.read_text()
        assert after.__xpm__.job.state is JobState.DONE

    def test_dependency_failure_is_reported_to_the_waiter(self, workdir):
        """Waiting on a job whose dependency failed raises with the failed job's log."""
        xp = experiment(workdir, "dep")
        try:
            bad = Add.C(inputs=[], fail=True).submit()

            from tasks import Counter

            # An output of the failed task, used by another task: a dependency.

            marked = Counter.C(value=1)
            marked.__xpm__.task = bad
            child = Add.C(inputs=[marked]).submit()
            with pytest.raises(DependencyFailedError) as info:
                child.wait(check=True)
            assert str(bad.__xpm__.job.stderr) in str(info.value)
            with pytest.raises(JobFailedError):
                bad.wait(check=True)
        finally:
            xp.close()

    def test_sigkilled_job_is_failed_not_running(self, workdir):
        """A job killed with SIGKILL ends failed with the signal, its pid file stale."""
        xp = experiment(workdir, "kill")
        try:
            task = Sleep.C(seconds=30).submit()
            job = task.__xpm__.job
            wait_until(job.paths.pid.exists, 10, "the job's pid file")
            pid = json.loads(job.paths.pid.read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(JobFailedError, match="SIGKILL"):
                task.wait(timeout=20, check=True)
            assert job.state is JobState.ERROR
            assert "SIGKILL" in json.loads(job.paths.failed.read_text())["reason"]
        finally:
            xp.close()


class TestLoops:
    def test_submit_and_await_inside_a_running_loop(self, workdir, tmp_path):
        """In a running loop (a notebook), submit returns at once and the job is awaited."""
        log = tmp_path / "runs.log"

        async def main():
            xp = experiment(workdir, "loop")
            start = time.perf_counter()
            out = Write.C(value=4, log=log, sleep=0.5).submit()
            submitted_in = time.perf_counter() - start
            ticks = 0
            while not out.__xpm__.task.__xpm__.job._done.done():
                ticks += 1  # the loop stays free while the job runs
                await asyncio.sleep(0.01)
            await out.__xpm__.task
            await xp
            xp.close()
            return submitted_in, ticks

        submitted_in, ticks = asyncio.run(main())
        assert submitted_in < 0.5
        assert ticks > 10
        assert log.read_text().startswith("4 ")

    def test_sync_wait_inside_a_running_loop(self, workdir, tmp_path):
        """job.wait() from synchronous code inside a running loop (a cell) works."""
        log = tmp_path / "runs.log"

        async def main():
            xp = experiment(workdir, "syncwait")
            task = Write.C(value=5, log=log).submit().__xpm__.task
            task.wait()
            xp.close()

        asyncio.run(main())
        assert log.read_text().startswith("5 ")


class TestProcesses:
    def test_classes_defined_in_main_run_in_the_job(self, workdir):
        """A Task class defined in a script's __main__ runs in the job process."""
        script = textwrap.dedent(
            f"""
            from __future__ import annotations
            from pathlib import Path
            from xpm_nb import Task, Param, Meta, PathGenerator, field, experiment

            class Hello(Task):
                name: Param[str]
                out: Meta[Path] = field(default_factory=PathGenerator("hello.txt"))
                def execute(self):
                    self.out.write_text("hello " + self.name)

            with experiment({str(workdir)!r}, "main") as xp:
                h = Hello.C(name="world").submit()
            print(h.out.read_text())
            """
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "hello world"
        assert list((workdir / "jobs").iterdir())[0].name == "__main__.hello"

    def test_two_processes_submitting_the_same_config_run_it_once(self, workdir, tmp_path):
        """Two drivers submitting the same task into one workspace: one run, both see done."""
        log = tmp_path / "runs.log"
        script = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(HERE)!r})
            from tasks import Write
            from xpm_nb import experiment
            with experiment({str(workdir)!r}, sys.argv[1]) as xp:
                Write.C(value=11, log={str(log)!r}, sleep=1.0).submit()
            print("done")
            """
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", script, f"xp{i}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for i in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        assert all(o[0].strip() == "done" for o in outs)
        assert log.read_text().count("11 ") == 1


class TestProgress:
    def test_progress_tqdm_and_metrics_reach_the_event_file(self, workdir):
        """progress(), tqdm and log_metrics in a task append events the notebook can read."""
        from tasks import Report

        with experiment(workdir, "progress"):
            task = Report.C(steps=5).submit()
        events = [json.loads(x) for x in task.__xpm__.job.paths.events.read_text().splitlines()]
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "JobStateChangedEvent" and events[-1]["state"] == "done"
        progress = [e for e in events if e["event_type"] == "JobProgressEvent"]
        assert progress[-1]["progress"] == 1.0 and progress[-1]["desc"] == "done"
        assert any(e["desc"] == "steps" for e in progress)
        metrics = [e for e in events if e["event_type"] == "JobMetricsEvent"]
        assert [m["step"] for m in metrics] == [0, 1, 2, 3, 4]
        assert metrics[-1]["metrics"]["loss"] == 0.2
