"""Following running jobs from the driver (progress, dynamic outputs) and acting on them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from support.paths import tasks_importable
from support.waiting import wait_until_async
from xpm_nb import experiment
from xpm_nb.errors import XPMError
from xpm_nb.scheduler.follow import FileTail
from xpm_nb.scheduler.jobs import JobState

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Add, Train, WaitForFile, Write  # noqa: E402


class TestFileTail:
    def test_reads_only_complete_new_lines(self, tmp_path):
        path = tmp_path / "events.jsonl"
        tail = FileTail(path)
        assert tail.read() == []  # no file yet
        path.write_text('{"a": 1}\n{"b": ')
        assert tail.read() == [{"a": 1}]
        with path.open("a") as f:
            f.write('2}\nnot json\n{"c": 3}\n')
        assert tail.read() == [{"b": 2}, {"c": 3}]
        assert tail.read() == []


class TestFollow:
    def test_progress_and_outputs_reach_the_driver_while_the_job_runs(self, workdir):
        """The job's progress levels and registered outputs arrive while it still runs."""

        async def main():
            xp = experiment(workdir, "follow")
            seen_progress: list[float] = []
            checkpoints: list[int] = []
            task = Train.C(steps=4, pause=0.3)
            task.watch_output(task.checkpoint, lambda ckpt: checkpoints.append(ckpt.step))
            task.submit()
            job = task.__xpm__.job
            job.listeners.append(
                lambda j: j.progress and seen_progress.append(j.progress[0]["progress"])
            )
            await wait_until_async(lambda: job.state.finished or (job.state is JobState.RUNNING
                                                                   and checkpoints),
                                   60, "the job running with a checkpoint")
            assert job.state is JobState.RUNNING  # seen before the end
            assert 0 < job.progress[0]["progress"] < 1
            assert job.progress[0]["desc"] == "train"
            await task
            xp.close()
            return job, seen_progress, checkpoints

        job, seen, checkpoints = asyncio.run(main())
        assert checkpoints == [0, 1, 2, 3]
        assert seen == sorted(seen) and seen[-1] == 1.0
        assert job.progress == [{"level": 0, "progress": 1.0, "desc": "train"}]

    def test_watch_output_callbacks_in_a_script(self, workdir):
        """The same callbacks run in a plain script (no loop of its own)."""
        got = []
        with experiment(workdir, "follow-sync"):
            task = Train.C(steps=2, pause=0.0)
            task.submit()
            task.watch_output(task.checkpoint, lambda c: got.append(c.step))  # after submit
        assert got == [0, 1]


class TestCancel:
    def test_cancel_a_running_job_records_it_on_disk(self, workdir, tmp_path):
        """A cancelled running job is killed; its folder says cancelled, dependents fail."""

        async def main():
            xp = experiment(workdir, "cancel")
            blocker = WaitForFile.C(path=tmp_path / "never")
            blocker.submit()
            job = blocker.__xpm__.job
            await wait_until_async(lambda: job.state is JobState.RUNNING, 60, "the job to run")
            pid = json.loads(job.paths.pid.read_text())["pid"]
            assert job.cancel() is True
            assert await blocker is JobState.ERROR
            assert job.failure_reason == "cancelled"
            assert job.cancel() is False  # already finished
            xp.close()
            return job, pid

        job, pid = asyncio.run(main())
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
        assert not job.paths.done.exists() and not job.paths.pid.exists()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    def test_cancel_a_waiting_job_fails_it_and_its_dependents(self, workdir, tmp_path):
        """A job waiting on a dependency never starts; a dependent of it fails too."""
        flag = tmp_path / "go"
        log = tmp_path / "runs.log"

        async def main():
            xp = experiment(workdir, "cancel-waiting")
            blocker = WaitForFile.C(path=flag)
            blocker.submit()
            gated = Write.C(value=7, log=log)
            gated.add_dependencies(blocker)
            counter = gated.submit()
            total = Add.C(inputs=[counter]).submit()
            gated_job, total_job = gated.__xpm__.job, total.__xpm__.job
            await wait_until_async(lambda: blocker.__xpm__.job.state is JobState.RUNNING, 60,
                                   "the blocker to run")
            assert gated_job.state is JobState.WAITING
            assert gated_job.cancel() is True
            assert await total is JobState.ERROR  # as the reference: the state, not a raise
            assert "cancelled" in total.__xpm__.job.failure_reason
            flag.touch()
            await blocker
            xp.close()
            return gated_job, total_job

        gated_job, total_job = asyncio.run(main())
        assert gated_job.state is JobState.ERROR and gated_job.failure_reason == "cancelled"
        assert not log.exists()  # never started
        assert total_job.state is JobState.ERROR

    def test_resubmit_runs_a_cancelled_job_and_its_chain(self, workdir, tmp_path):
        """Resubmitting a dependent re-runs its cancelled dependency first; done is final."""
        flag = tmp_path / "go"
        log = tmp_path / "runs.log"

        async def main():
            xp = experiment(workdir, "resubmit")
            blocker = WaitForFile.C(path=flag)
            blocker.submit()
            gated = Write.C(value=5, log=log)
            gated.add_dependencies(blocker)
            total = Add.C(inputs=[gated.submit()]).submit()
            first = blocker.__xpm__.job
            await wait_until_async(lambda: first.state is JobState.RUNNING, 60, "the blocker to run")
            first.cancel()
            assert await total is JobState.ERROR
            assert json.loads(first.paths.failed.read_text())["reason"] == "cancelled"
            flag.touch()
            total.__xpm__.job.resubmit()  # the chain: blocker, then gated, then total
            await total
            with pytest.raises(XPMError, match="is done"):
                first.resubmit()
            xp.close()
            return first, total

        first, total = asyncio.run(main())
        assert first.state is JobState.DONE and not first.paths.failed.exists()
        assert Path(total.out).read_text() == "5"
        assert log.read_text().split()[0] == "5"


class TestJobApi:
    def test_aio_run_and_done_handler(self, workdir):
        """The reference's lower-level Job API: start a process, then read its outputs."""
        from xpm_nb.scheduler.jobs import Job

        async def main():
            xp = experiment(workdir, "job-api")
            got: list[int] = []
            task = Train.C(steps=2, pause=0.0)
            task.watch_output(task.checkpoint, lambda c: got.append(c.step))
            job = Job(task, workspace=xp.workspace, launcher=xp.workspace.launcher)
            job.register_watched_outputs()
            job.register_watched_outputs()  # idempotent
            handle = await job.aio_run()
            await wait_until_async(lambda: handle.poll() is not None, what="the job's process end")
            await job.aio_done_handler()
            xp.close()
            return job, got

        job, got = asyncio.run(main())
        assert got == [0, 1]
        assert job.paths.done.exists()
