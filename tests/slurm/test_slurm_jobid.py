"""A SLURM job id read from ``slurm.json`` is checked before it reaches scancel/squeue.

An id of ``--me`` given to ``scancel`` cancels every job of the user: a planted
(or damaged) ``slurm.json`` must cancel nothing else, and say which file is wrong.
"""

from __future__ import annotations

import json

import pytest
from slurm_helpers import until
from slurm_tasks import Produce

from xpm_nb import experiment
from xpm_nb.errors import XPMError
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of


def test_job_ids():
    from xpm_nb.launchers.slurm.commands import check_jobid, is_jobid

    assert is_jobid("12") and is_jobid("12_3")
    for bad in ("--me", "-u", "12,13", "12 13", "", "1_", "_1", "12_3_4", None, 12.0, True):
        assert not is_jobid(bad)
    with pytest.raises(XPMError, match="slurm.json.*'--me'"):
        check_jobid("--me", "/x/.experimaestro/slurm.json")


def test_planted_job_id_cancels_nothing_else(slurm_cluster, launcher, workdir):
    """slurm.json says ``--me``: the job fails naming the file; the user's other job survives."""
    other = slurm_cluster.sbatch("--hold", "-J", "bystander", "-o", "/dev/null",
                                 "--wrap", "sleep 600")
    try:
        slurm_cluster.wait_state(other, "PENDING")
        config = Produce.C(value=5)
        path = workdir / "jobs" / config.__xpmtype__.identifier / config.__identifier__().hex()
        record = path / ".experimaestro" / "slurm.json"
        record.parent.mkdir(parents=True)
        record.write_text(json.dumps({"jobid": "--me", "submitted": 0}))
        xp = experiment(workdir, "planted-id", launcher=launcher)
        try:
            out = Produce.C(value=5).submit()
            job = job_of(out)
            until(lambda: job.state in (JobState.SCHEDULED, JobState.RUNNING)
                  or job.state.finished, "job followed or failed")
            job.cancel()  # with the id unchecked: scancel --me
            until(lambda: job.state.finished, "job ended")
        finally:
            xp.close()
        info = slurm_cluster.job_info(other)
        assert info.get("JobState") == "PENDING", info  # not cancelled by `scancel --me`
        assert job.state is JobState.ERROR
        assert "slurm.json" in job.failure_reason and "--me" in job.failure_reason
    finally:
        slurm_cluster.run("scancel", other, check=False)
        slurm_cluster.wait_job(other)


def test_scancel_accepts_double_dash(slurm_cluster):
    """The real scancel takes ``--`` before the ids (what SlurmJobHandle.kill passes)."""
    jobid = slurm_cluster.sbatch("--hold", "-J", "dd", "-o", "/dev/null", "--wrap", "sleep 600")
    slurm_cluster.wait_state(jobid, "PENDING")
    r = slurm_cluster.run("scancel", "--", jobid, check=False)
    assert r.returncode == 0, r.stderr
    assert slurm_cluster.wait_job(jobid)["JobState"] == "CANCELLED"
