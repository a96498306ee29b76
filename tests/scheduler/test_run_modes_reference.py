"""Run modes as in the reference: dry runs and generate-only runs of tasks
with dependencies, and a dry run with no experiment."""

from __future__ import annotations

import pytest

from support.paths import tasks_importable
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.workspace import RunMode

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Add, Write  # noqa: E402


def _job(task):
    return task.__xpm__.job


@pytest.mark.parametrize("mode", [RunMode.DRY_RUN, RunMode.GENERATE_ONLY])
def test_a_dependent_ends_like_its_dependencies(workdir, tmp_path, mode):
    log = tmp_path / "runs.log"
    with experiment(workdir, "modes-deps", run_mode=mode) as xp:
        first = Write.C(value=1, log=log)
        total = Add.C(inputs=[first.submit()])
        total.submit()
        xp.wait(check=True)  # no failure to report
        assert not xp.failed and xp.failed_jobs() == []
    assert not log.exists()  # nothing ran
    for job in (_job(first), _job(total)):
        assert job.state is JobState.UNSCHEDULED, job.failure_reason
        assert job.failure_reason is None
        params = job.path / "params.json"
        assert params.exists() == (mode is RunMode.GENERATE_ONLY)
        assert not job.paths.done.exists() and not job.paths.failed.exists()
    assert not xp.failed


def test_dry_run_with_no_experiment(tmp_path):
    assert experiment.CURRENT is None
    before = set(tmp_path.rglob("*"))
    task = Write.C(value=5, log=tmp_path / "log")
    out = task.submit(run_mode=RunMode.DRY_RUN)
    job = _job(task)
    assert out is not None and job is not None
    assert job.identifier == task.__identifier__().hex()
    assert job.path.parts[-3:] == ("jobs", job.type_id, job.identifier)
    assert job.state is JobState.UNSCHEDULED
    assert set(tmp_path.rglob("*")) == before  # nothing written
    # A dependent learns its id too.
    total = Add.C(inputs=[out])
    total.submit(run_mode=RunMode.DRY_RUN)
    assert _job(total).dependencies == [job]
