"""SLURM through SSH: the test cluster's commands run on the "remote" host over SSH."""

from __future__ import annotations

import json
import sys

import pytest
from remote_tasks import Emit, Sum

from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState


def test_a_dag_through_slurm_on_the_remote_host(connector, slurm_cluster, remote_root, guard):
    """sbatch/squeue run over SSH; the job folders are written and read over SFTP."""
    slurm = pytest.importorskip("xpm_nb.launchers.slurm")
    launcher = slurm.SlurmLauncher(
        connector=connector, options=slurm.SlurmOptions(partition="debug"), interval=0.5,
        launcherenv={"SLURM_CONF": str(slurm_cluster.conf_path)}, python=sys.executable,
        arrays=False)  # one SLURM job per folder: the ids the processes see are the recorded ones
    ws, log = remote_root / "ws", remote_root / "log.txt"
    with guard:
        with experiment(f"ssh://{connector.spec}/{ws}", "slurm", launcher=launcher) as xp:
            a = Emit.C(value=1, log=log).submit()
            b = Emit.C(value=2, log=log).submit()
            Sum.C(inputs=[a, b]).submit()
    assert all(j.state is JobState.DONE for j in xp.jobs), [(j, j.failure_reason) for j in xp.jobs]
    total = next(j for j in xp.jobs if j.name == "sum")
    assert (total.path / "sum.txt").read_text() == "3"
    # Each task ran as the SLURM job recorded in its folder.
    ran_as = {line.split()[0]: line.split()[5] for line in log.read_text().splitlines()}
    for job in xp.jobs:
        jobid = json.loads((job.paths.meta / "slurm.json").read_text())["jobid"]
        if job.name == "emit":
            assert ran_as[str(job.config.value)] == jobid
        r = slurm_cluster.run("scontrol", "show", "job", jobid, check=False)
        if r.returncode == 0 and "JobState=" in r.stdout:  # until MinJobAge forgets it
            # (its state may still lag: the job's .done marker is the truth)
            assert f"JobName=xpm-{job.name}-{job.identifier[:8]}" in r.stdout
            assert f"WorkDir={job.path}" in r.stdout
