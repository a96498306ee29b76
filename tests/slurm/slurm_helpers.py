"""Helpers of the SLURM tests: waiting for a condition, a busy node, jobs of a folder,
the SLURM id of a job, the states jobs go through."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from support.waiting import wait_until

HERE = Path(__file__).parent


def until(predicate, what: str, timeout: float = 90) -> None:
    """Block until ``predicate()`` holds (the scheduler goes on in its own thread); an
    AssertionError naming ``what`` after ``timeout`` s (a guard against hangs)."""
    wait_until(predicate, timeout, what, step=0.05)


@contextlib.contextmanager
def busy_node(cluster, cpus: int | None = None):
    """A job holding ``cpus`` (default: all) CPUs of the node, so others stay pending."""
    cpus = cluster.cpus if cpus is None else cpus
    if cpus <= 0:
        yield None
        return
    jobid = cluster.sbatch("-c", str(cpus), "-J", "blocker", "-o", "/dev/null",
                           "--wrap", "sleep 600")
    try:
        cluster.wait_state(jobid, "RUNNING")
        yield jobid
    finally:
        cluster.run("scancel", jobid, check=False)
        cluster.wait_job(jobid)


def jobs_in(cluster, folder: Path) -> dict[str, str]:
    """SLURM jobs (any state) whose working folder is under ``folder``: id -> name."""
    r = cluster.run("squeue", "-h", "-t", "all", "-o", "%i|%j|%Z")
    out = {}
    for line in r.stdout.splitlines():
        jobid, name, workdir = line.split("|", 2)
        if workdir.startswith(str(folder)):
            out[jobid] = name
    return out


def slurm_id(job) -> str:
    """The SLURM job id recorded in the job folder."""
    return json.loads((job.paths.meta / "slurm.json").read_text())["jobid"]


def record_states(xp) -> dict[str, list[str]]:
    """Every state each job of ``xp`` goes through, in order (no repeats)."""
    states: dict[str, list[str]] = {}

    def listener(job):
        seen = states.setdefault(job.identifier, [])
        if not seen or seen[-1] != job.state.value:
            seen.append(job.state.value)

    xp.scheduler.listeners.append(listener)
    return states
