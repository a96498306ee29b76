"""Transient jobs, tokens, retries of resumable tasks, init tasks."""

from __future__ import annotations

from pathlib import Path

from support.failures import failed_experiment
from support.paths import tasks_importable
from xpm_nb import TransientMode, experiment
from xpm_nb.connectors.local import LocalConnector
from xpm_nb.scheduler.jobs import JobState

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import (  # noqa: E402
    Add,
    Interval,
    LoadWeights,
    ReadMarker,
    Resumable,
    SetEnvInit,
    UseWeights,
    Weights,
    Write,
)


class TestTransient:
    def test_unneeded_transient_job_is_not_run(self, workdir, tmp_path):
        log = tmp_path / "runs.log"
        with experiment(workdir, "transient"):
            Write.C(value=1, log=log).submit(transient=TransientMode.TRANSIENT)
            job = Write.C(value=2, log=log).submit().__xpm__.task.__xpm__.job
        assert log.read_text().split()[0] == "2" and len(log.read_text().splitlines()) == 1
        assert job.state is JobState.DONE

    def test_needed_transient_job_runs_and_remove_deletes_it_after(self, workdir, tmp_path):
        log = tmp_path / "runs.log"
        with experiment(workdir, "transient-remove"):
            first = Write.C(value=3, log=log)
            counter = first.submit(transient=TransientMode.REMOVE)
            total = Add.C(inputs=[counter]).submit()
        assert Path(total.out).read_text() == "3"
        assert not first.__xpm__.job.path.exists()  # removed once its dependent was done
        assert first.__xpm__.job.state is JobState.DONE


class TestTokens:
    def test_a_token_bounds_concurrency(self, workdir, tmp_path):
        """Five jobs sharing a token of 2: at most two run at any time, all run."""
        log = tmp_path / "intervals.log"
        token = LocalConnector(tmp_path / "connector").createtoken("gpu", 2)
        with experiment(workdir, "tokens"):
            for i in range(5):
                task = Interval.C(name=f"t{i}", log=log, seconds=0.4)
                task.add_dependencies(token.dependency(1))
                task.submit()
        spans = [(float(a), float(b)) for _, a, b in (x.split() for x in log.read_text().splitlines())]
        assert len(spans) == 5
        events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        assert peak <= 2
        assert token.used() == 0  # all released


class TestRetries:
    def test_resumable_task_is_retried_until_done_from_its_checkpoint(self, workdir):
        with experiment(workdir, "resume"):
            task = Resumable.C(steps=3)
            task.submit(max_retries=5)
        job = task.__xpm__.job
        assert job.state is JobState.DONE
        assert Path(task.checkpoint).read_text() == "3"
        assert job.retry_count == 2

    def test_retries_are_bounded(self, workdir):
        with experiment(workdir, "resume-bounded") as xp:
            task = Resumable.C(steps=10)
            task.submit(max_retries=1)
        failed_experiment(xp, match="graceful timeout")
        job = task.__xpm__.job
        # As the reference, every failed run of a resumable task counts (the
        # count, in status.json, bounds its runs in later experiments too).
        assert job.state is JobState.ERROR and job.retry_count == 2
        assert Path(task.checkpoint).read_text() == "2"  # first run + one retry


class TestInitTasks:
    def test_init_tasks_run_before_the_task_in_its_process(self, workdir, tmp_path):
        marker = tmp_path / "marker.txt"
        with experiment(workdir, "init"):
            task = ReadMarker.C(marker=marker)
            task.submit(init_tasks=[SetEnvInit.C(marker=marker, text="from init")])
        assert Path(task.out).read_text() == "from init"
        # Init tasks are part of the job's identity.
        plain = ReadMarker.C(marker=marker)
        assert plain.__identifier__() != task.__identifier__()

    def test_init_tasks_share_the_task_objects(self, workdir):
        """An init task given the task's model changes the very object the task uses."""
        with experiment(workdir, "init-shared"):
            model = Weights.C(size=3)
            task = UseWeights.C(model=model)
            task.submit(init_tasks=[LoadWeights.C(model=model)])
        assert Path(task.out).read_text() == "weights of size 3"
