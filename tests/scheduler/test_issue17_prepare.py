"""``Prepare`` configurations (issue 17, point 3), as experimaestro 2.7.0 runs them:
``prepare()`` in the driver before a task using the configuration runs, once per
identifier, not for a task already done, not in dry-run / generate-only modes;
``RunMode.PREPARE`` runs only the preparations."""

from __future__ import annotations

from pathlib import Path

import pytest

import xpm_nb
from support.paths import tasks_importable
from xpm_nb import experiment
from xpm_nb.core.prepare import Preparation, collect_prepares
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.workspace import RunMode

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from issue17_tasks import CheckedDownload, Download, UseData  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_preparations():
    Preparation.reset()
    yield
    Preparation.reset()


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_prepare_is_exported():
    assert "Prepare" in xpm_nb.__all__
    assert issubclass(Download, xpm_nb.Prepare)


def test_prepare_runs_in_the_driver_before_the_task(workdir, tmp_path):
    """The task asserts (in its own process) that its data was prepared first."""
    log = tmp_path / "log"
    with experiment(workdir, "prep") as xp:
        data = Download.C(name="a", log=log)
        data.__dict__["link"] = "kept"  # not a field: a copy would lose it
        seen = []
        data.prepare = lambda *a, **k: (seen.append(data.__dict__.get("link")),
                                        Download.prepare(data))
        task = UseData.C(data=data)
        task.submit()
    assert task.__xpm__.job.state is JobState.DONE
    assert _lines(log) == ["prepare a"]
    assert seen == ["kept"]  # the very configuration the task was given
    assert not (xp.workspace.path / "jobs" / Download.__xpmtype__.identifier).exists()


def test_prepare_runs_once_per_identifier(workdir, tmp_path):
    log = tmp_path / "log"
    with experiment(workdir, "prep-once"):
        UseData.C(data=Download.C(name="b", log=log), variant=1).submit()
        UseData.C(data=Download.C(name="b", log=log), variant=2).submit()
        UseData.C(data=Download.C(name="c", log=log), variant=1).submit()
    assert sorted(_lines(log)) == ["prepare b", "prepare c"]


def test_a_done_task_prepares_nothing(workdir, tmp_path):
    log = tmp_path / "log"
    with experiment(workdir, "prep-done"):
        UseData.C(data=Download.C(name="d", log=log)).submit()
    Preparation.reset()  # a new process would not remember
    log.unlink()
    log.touch()
    with experiment(workdir, "prep-done") as xp:
        task = UseData.C(data=Download.C(name="d", log=log))
        task.submit()
    assert xp.jobs[0].state is JobState.DONE
    assert _lines(log) == []


def test_is_prepared_skips_prepare(workdir, tmp_path):
    log, marker = tmp_path / "log", tmp_path / "marker"
    marker.write_text("already")
    with experiment(workdir, "prep-checked"):
        task = UseData.C(data=CheckedDownload.C(name="e", log=log, marker=marker))
        task.submit()
    assert _lines(log) == []  # prepare() skipped (so the task, checking it, failed)
    assert task.__xpm__.job.state is JobState.ERROR

    log2, marker2 = tmp_path / "log2", tmp_path / "marker2"
    with experiment(workdir, "prep-checked"):
        task = UseData.C(data=CheckedDownload.C(name="e2", log=log2, marker=marker2))
        task.submit()
    assert _lines(log2) == ["prepare e2"] and marker2.exists()
    assert task.__xpm__.job.state is JobState.DONE


def test_a_failing_prepare_fails_the_task(workdir, tmp_path):
    with experiment(workdir, "prep-fail") as xp:
        data = Download.C(name="f", log=tmp_path / "no" / "such" / "dir")
        task = UseData.C(data=data)
        task.submit()
    job = task.__xpm__.job
    assert job.state is JobState.ERROR
    assert "prepare() of Download failed" in job.failure_reason
    assert xp.failed


@pytest.mark.parametrize("mode", [RunMode.DRY_RUN, RunMode.GENERATE_ONLY])
def test_no_preparation_when_simulating(workdir, tmp_path, mode):
    log = tmp_path / "log"
    with experiment(workdir, "prep-sim", run_mode=mode):
        UseData.C(data=Download.C(name="g", log=log)).submit()
    assert _lines(log) == []


def test_prepare_mode_runs_only_the_preparations(workdir, tmp_path):
    log = tmp_path / "log"
    with experiment(workdir, "prep-mode", run_mode=RunMode.PREPARE):
        one = UseData.C(data=Download.C(name="h", log=log), variant=1)
        one.submit()
        assert _lines(log) == ["prepare h"]  # at once, in submit()
        UseData.C(data=Download.C(name="h", log=log), variant=2).submit()
        assert one.__xpm__.job.state is JobState.UNSCHEDULED
    assert _lines(log) == ["prepare h"]
    assert not any((workdir / "jobs").iterdir())  # no job folder


def test_the_prepares_in_a_tasks_parameters_are_found(tmp_path):
    inner = Download.C(name="i", log=tmp_path / "log")
    outer = CheckedDownload.C(name="j", log=tmp_path / "log", marker=tmp_path / "m")
    task = UseData.C(data=inner)
    assert collect_prepares(task) == [inner]
    assert collect_prepares(UseData.C(data=outer)) == [outer]


# --- a Prepare submitted: prepared by a job of its own -----------------------


def test_a_prepare_without_is_prepared_cannot_be_submitted(workdir, tmp_path):
    with experiment(workdir, "prep-submit", run_mode=RunMode.DRY_RUN):
        with pytest.raises(ValueError, match="is_prepared"):
            Download.C(name="k", log=tmp_path / "log").submit()


def test_a_submitted_prepare_runs_as_a_job_before_its_users(workdir, tmp_path):
    from xpm_nb.core.prepare import PrepareTask

    log, marker = tmp_path / "log", tmp_path / "marker"
    with experiment(workdir, "prep-job"):
        data = CheckedDownload.C(name="l", log=log, marker=marker)
        assert data.submit() is data
        # an identifier-equal configuration is prepared by the same job
        task = UseData.C(data=CheckedDownload.C(name="l", log=log, marker=marker))
        task.submit()
        job = task.__xpm__.job
        [prep_job] = job.dependencies
        assert isinstance(prep_job.config, PrepareTask)
        assert prep_job.type_id == "experimaestro.prepare"
        assert job.prepares == []  # not in the driver
    assert job.state is JobState.DONE
    assert prep_job.state is JobState.DONE and prep_job.paths.done.exists()
    assert prep_job.paths.stderr.exists()  # it ran as a process
    assert _lines(log) == ["prepare l"]


def test_a_prepare_job_adopts_an_existing_output_and_reruns_a_stale_one(workdir, tmp_path):
    log, marker = tmp_path / "log", tmp_path / "marker"
    marker.write_text("prepared elsewhere")
    with experiment(workdir, "prep-adopt"):
        CheckedDownload.C(name="m", log=log, marker=marker).submit()
        task = UseData.C(data=CheckedDownload.C(name="m", log=log, marker=marker))
        task.submit()
        [prep_job] = task.__xpm__.job.dependencies
    assert prep_job.state is JobState.DONE and prep_job.paths.done.exists()
    assert not prep_job.paths.stderr.exists()  # adopted: not run
    assert _lines(log) == []
    assert task.__xpm__.job.state is JobState.ERROR  # its check: prepare() never ran

    marker.unlink()  # the .done no longer says the truth
    Preparation.reset()
    with experiment(workdir, "prep-adopt"):
        CheckedDownload.C(name="m", log=log, marker=marker).submit()
        task = UseData.C(data=CheckedDownload.C(name="m", log=log, marker=marker), variant=1)
        task.submit()
    assert _lines(log) == ["prepare m"] and marker.exists()
    assert task.__xpm__.job.state is JobState.DONE


def test_an_unneeded_prepare_job_does_not_run(workdir, tmp_path):
    log, marker = tmp_path / "log", tmp_path / "marker"
    with experiment(workdir, "prep-unneeded"):
        CheckedDownload.C(name="n", log=log, marker=marker).submit()
    assert _lines(log) == [] and not marker.exists()


def test_prepare_mode_prepares_a_submitted_prepare_in_the_driver(workdir, tmp_path):
    log, marker = tmp_path / "log", tmp_path / "marker"
    with experiment(workdir, "prep-mode-job", run_mode=RunMode.PREPARE):
        data = CheckedDownload.C(name="o", log=log, marker=marker).submit()
        UseData.C(data=data).submit()
    assert _lines(log) == ["prepare o"]
    assert not any((workdir / "jobs").iterdir())
