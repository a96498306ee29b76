"""Reference behaviours of jobs (issue 17): ``JobState`` helpers, what waiting
returns, ``watch_output`` with a ``dep`` argument, a shared configuration
loaded once by ``load_xp_info``, failed resumable tasks and ``max_retries``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from support.paths import tasks_importable
from xpm_nb import experiment, load_xp_info
from xpm_nb.scheduler.workspace import RunMode

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Add, Counter  # noqa: E402


def _without_objects_file(run: Path, drop: bool) -> Path:
    """A run read from its job folders' params.json (one written before
    objects.jsonl existed, or whose notebook classes only classes.pkl has)."""
    if drop:
        (run / "objects.jsonl").unlink(missing_ok=True)
    return run


@pytest.mark.parametrize("drop_objects", [False, True], ids=["objects.jsonl", "job-folders"])
class TestLoadXpInfo:
    def test_a_configuration_two_jobs_share_is_one_object(self, workdir, drop_objects):
        shared = Counter.C(value=2)
        with experiment(workdir, "shared", run_mode=RunMode.GENERATE_ONLY) as xp:
            one = Add.C(inputs=[shared])
            two = Add.C(inputs=[shared, Counter.C(value=3)])
            one.submit()
            two.submit()
            run = xp.run_path
            ids = [t.__xpm__.job.identifier for t in (one, two)]
        info = load_xp_info(_without_objects_file(run, drop_objects))
        first, second = (info.jobs[i] for i in ids)
        assert first.inputs[0].value == 2
        assert first.inputs[0] is second.inputs[0]
        assert first.inputs[0] is not second.inputs[1]

    def test_equal_values_in_distinct_objects_stay_distinct(self, workdir, drop_objects):
        with experiment(workdir, "distinct", run_mode=RunMode.GENERATE_ONLY) as xp:
            one = Add.C(inputs=[Counter.C(value=2)])
            two = Add.C(inputs=[Counter.C(value=2)], fail=True)
            one.submit()
            two.submit()
            run = xp.run_path
            ids = [t.__xpm__.job.identifier for t in (one, two)]
        info = load_xp_info(_without_objects_file(run, drop_objects))
        first, second = (info.jobs[i] for i in ids)
        assert first.inputs[0] is not second.inputs[0]


class TestWaitReturnsTheState:
    def test_wait_and_await_return_the_final_state(self, workdir):
        from xpm_nb.scheduler.jobs import JobState

        async def awaited(obj):
            return await obj

        with experiment(workdir, "wait"):
            task = Add.C(inputs=[Counter.C(value=1)])
            task.submit()
            job = task.__xpm__.job
            assert task.wait() is JobState.DONE
            assert job.wait() is JobState.DONE
        # after the experiment exited: the state, no error
        assert task.wait() is JobState.DONE and job.wait() is JobState.DONE
        assert asyncio.run(awaited(job)) is JobState.DONE
        assert asyncio.run(awaited(task)) is JobState.DONE

    def test_a_failed_job_returns_the_error_state_and_logs_it_once(self, workdir, caplog):
        from xpm_nb.scheduler.jobs import JobState

        with experiment(workdir, "wait-failed-state") as xp:
            task = Add.C(inputs=[Counter.C(value=1)], fail=True)
            task.submit()
            assert task.wait() is JobState.ERROR  # as the reference's wait()
            assert task.wait() is JobState.ERROR
        assert xp.failed
        assert task.wait() is JobState.ERROR  # also once the experiment has exited
        lines = [r.getMessage() for r in caplog.records if "asked to fail" in r.getMessage()]
        assert len(lines) == 1, lines  # job.wait() and the experiment's end: logged once
        assert str(task.__xpm__.job.stderr) in lines[0]

    def test_a_failed_job_raises_with_check(self, workdir):
        from xpm_nb.errors import JobFailedError
        from xpm_nb.scheduler.jobs import JobState

        with experiment(workdir, "wait-failed"):
            task = Add.C(inputs=[Counter.C(value=1)], fail=True)
            task.submit()
            with pytest.raises(JobFailedError, match="asked to fail") as info:
                task.wait(check=True)
        assert info.value.state is JobState.ERROR
        assert info.value.job is task.__xpm__.job

    def test_dry_run_returns_unscheduled(self, workdir):
        from xpm_nb.scheduler.jobs import JobState

        with experiment(workdir, "wait-dry", run_mode=RunMode.DRY_RUN):
            task = Add.C(inputs=[Counter.C(value=1)])
            task.submit()
            assert task.wait() is JobState.UNSCHEDULED


class TestWatchOutputWithDep:
    def test_a_method_taking_dep_makes_dynamic_outputs(self, workdir):
        """As the reference: ``def checkpoint(self, dep, step)`` is called in the
        driver with a marker; the job, which records the outputs, succeeds."""
        from issue17_tasks import DepTrain, Step

        from xpm_nb.scheduler.jobs import JobState

        got = []
        with experiment(workdir, "dep-outputs"):
            task = DepTrain.C(steps=3)
            task.watch_output(task.checkpoint, got.append)
            task.submit()
        assert task.__xpm__.job.state is JobState.DONE, task.__xpm__.job.failure_reason
        assert [c.step for c in got] == [0, 1, 2]
        first = got[0]
        assert first.__xpm__.task is task  # marked as an output of the task
        assert first.__identifier__() != Step.C(step=0).__identifier__()

    def test_a_task_using_a_dynamic_output_does_not_wait_for_its_task(self, workdir):
        """The reference's soft dependency: a checkpoint is usable while its task runs."""
        from issue17_tasks import DepTrain, Step, UseStep

        from xpm_nb.core.outputs import output_value
        from xpm_nb.scheduler.submit import _dependencies

        with experiment(workdir, "dep-soft", run_mode=RunMode.DRY_RUN):
            task = DepTrain.C(steps=1)
            task.submit()
            ckpt = output_value(task, task, "checkpoint", [0], {})
            assert ckpt.__xpm__.task is task and ckpt.__xpm__.dynamic_output
            assert _dependencies(UseStep.C(step=ckpt)) == []
            static = Step.C(step=0)
            static.__xpm__.task = task  # a task_outputs() output: waited for
            assert _dependencies(UseStep.C(step=static)) == [task.__xpm__.job]


class TestResumableRetries:
    def _run(self, workdir, tmp_path, max_retries):
        from issue17_tasks import FailOnce

        with experiment(workdir, "retries"):
            task = FailOnce.C(name="r", flag=tmp_path / "flag", log=tmp_path / "log")
            task.submit(max_retries=max_retries)
        return task.__xpm__.job

    def test_kept_failed_until_max_retries_grows(self, workdir, tmp_path):
        from xpm_nb.scheduler.jobs import JobState

        log = tmp_path / "log"
        job = self._run(workdir, tmp_path, 1)
        assert job.state is JobState.ERROR and log.read_text().count("run") == 1
        assert job.retry_count == 1
        (tmp_path / "flag").touch()  # it would now succeed...
        job = self._run(workdir, tmp_path, 1)  # ...but its retries are exhausted
        assert job.state is JobState.ERROR and log.read_text().count("run") == 1
        assert "max_retries is 1" in job.failure_reason
        job = self._run(workdir, tmp_path, 2)  # more retries: it runs
        assert job.state is JobState.DONE and log.read_text().count("run") == 2

    def test_resubmit_runs_an_exhausted_job(self, workdir, tmp_path):
        from issue17_tasks import FailOnce

        from xpm_nb.errors import JobFailedError
        from xpm_nb.scheduler.jobs import JobState

        log = tmp_path / "log"
        self._run(workdir, tmp_path, 1)
        (tmp_path / "flag").touch()
        with experiment(workdir, "retries"):
            task = FailOnce.C(name="r", flag=tmp_path / "flag", log=log)
            task.submit(max_retries=1)
            job = task.__xpm__.job
            with pytest.raises(JobFailedError):
                job.wait(check=True)
            job.resubmit()
            assert job.wait() is JobState.DONE
        assert log.read_text().count("run") == 2


class TestResubmitAfterFailure:
    def test_a_failed_job_submitted_again_runs_again_with_the_new_configuration(
            self, workdir, tmp_path):
        """As the reference: in the same experiment, submitting a failed job's
        configuration again (a cell run again after a fix) runs it again."""
        from issue17_tasks import FailOnce

        from xpm_nb.scheduler.jobs import JobState

        flag, log = tmp_path / "flag", tmp_path / "log"
        with experiment(workdir, "resubmit-failed") as xp:
            first = FailOnce.C(name="a", flag=flag, log=log)
            first.submit()
            assert first.wait() is JobState.ERROR
            flag.touch()  # "the fix"
            again = FailOnce.C(name="a", flag=flag, log=log)
            again.submit()
            assert again.__xpm__.job is first.__xpm__.job  # the same job, run again
            assert again.__xpm__.job.config is again
            assert again.wait() is JobState.DONE
        assert not xp.failed
        assert log.read_text().splitlines() == ["run", "run"]
