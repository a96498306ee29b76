"""A job submitted twice in one experiment: run modes and transient modes merged as the
reference's scheduler does (``aio_registerJob``)."""

from __future__ import annotations

from pathlib import Path

from support.paths import tasks_importable
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.workspace import RunMode, TransientMode

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from modetasks import Step, Use  # noqa: E402


def test_dry_run_then_real_submission_runs_the_job(workdir):
    with experiment(workdir, "modes") as xp:
        dry = Step.C(x=1)
        dry.submit(run_mode=RunMode.DRY_RUN)
        job = dry.__xpm__.job
        xp.wait()
        assert job.state is JobState.UNSCHEDULED  # the dry run ran nothing
        real = Step.C(x=1)
        real.submit()
    assert real.__xpm__.job is job
    assert job.state is JobState.DONE
    assert Path(job.path, "out.txt").read_text() == "1"


def test_dry_run_then_real_submission_before_it_ended(workdir):
    """The real submission comes at once (the dry run's coroutine may not have ended)."""
    with experiment(workdir, "modes"):
        Step.C(x=2).submit(run_mode=RunMode.GENERATE_ONLY)
        real = Step.C(x=2)
        real.submit()
    assert real.__xpm__.job.state is JobState.DONE


def test_transient_then_not_transient_runs(workdir):
    """A transient job no one needs is not run; submitted again as not transient, it is."""
    with experiment(workdir, "modes") as xp:
        first = Step.C(x=3)
        first.submit(transient=TransientMode.TRANSIENT)
        xp.wait()  # not awaited: nothing needs it
        second = Step.C(x=3)
        second.submit()
    job = second.__xpm__.job
    assert job is first.__xpm__.job
    assert job.transient is TransientMode.NONE and job.state is JobState.DONE


def test_transient_after_not_transient_stays_not_transient(workdir):
    with experiment(workdir, "modes"):
        Step.C(x=4).submit()
        again = Step.C(x=4)
        again.submit(transient=TransientMode.TRANSIENT)
    assert again.__xpm__.job.transient is TransientMode.NONE
    assert again.__xpm__.job.state is JobState.DONE


def test_remove_then_transient_keeps_the_folder(workdir):
    """REMOVE then TRANSIENT: the less destructive mode wins, the folder is kept."""
    with experiment(workdir, "modes"):
        step = Step.C(x=5)
        step.submit(transient=TransientMode.REMOVE)
        Step.C(x=5).submit(transient=TransientMode.TRANSIENT)
        Use.C(step=step).submit()
    job = step.__xpm__.job
    assert job.transient is TransientMode.TRANSIENT
    assert job.state is JobState.DONE and Path(job.path, "out.txt").exists()


def test_remove_alone_removes_the_folder(workdir):
    """The contrast of the previous test: with REMOVE only, the folder goes."""
    with experiment(workdir, "modes"):
        step = Step.C(x=6)
        step.submit(transient=TransientMode.REMOVE)
        Use.C(step=step).submit()
    assert not step.__xpm__.job.path.exists()


def test_larger_max_retries_wins(workdir):
    with experiment(workdir, "modes"):
        Step.C(x=7).submit(max_retries=1)
        again = Step.C(x=7)
        again.submit(max_retries=5)
        Step.C(x=7).submit(max_retries=2)
    assert again.__xpm__.job.max_retries == 5
