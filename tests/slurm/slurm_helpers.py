"""Helpers of the SLURM tests: waiting on an experiment, a busy node, jobs of a folder,
the SLURM id of a job, the states jobs go through."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def until(xp, predicate, what: str, timeout: float = 90) -> None:
    """Run the experiment's loop until ``predicate()`` holds (a guard against hangs)."""

    async def wait():
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what} after {timeout} s")
            await asyncio.sleep(0.05)

    xp.loop.run_until_complete(wait())


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
