"""Fault 6: 2,000 queued jobs in one experiment, in a running loop (a notebook).

Correctness only: timings (the loop's stalls, memory) are measured by
``benchmarks/bench_load.py`` and reported in this folder's README. Running
2,000 job processes would take minutes on 2 cores, so the 2,000 jobs are
queued behind a token that a gate job holds, then all but 50 are cancelled and
those 50 run through the token, 2 at a time.
"""

from __future__ import annotations

import asyncio
import json
import os

from relhelpers import (
    assert_workspace_consistent,
    isolated_env,  # noqa: F401 - autouse fixture
    log_lines,
)
from reltasks import Append, Gate

from support.waiting import all_ended, scheduler_tasks, wait_until_async
from xpm_nb import experiment
from xpm_nb.connectors.local import LocalConnector
from xpm_nb.scheduler.jobs import JobState

N, RUN = 2000, 50


def test_2000_queued_jobs_cancel_most_run_the_rest_once(workdir, tmp_path):
    """2,000 jobs queued behind a token of 2 (held by a gate): all wait; cancelled ones
    never run and are recorded cancelled; the others each run exactly once, never more
    than 2 at a time; no coroutine and no token unit is left behind."""
    log, release = tmp_path / "runs.log", tmp_path / "release"
    token = LocalConnector(tmp_path / "connector").createtoken("slots", 2)

    before = scheduler_tasks()  # the scheduler's loop is shared by the process

    async def notebook():
        xp = experiment(workdir, "load", project_paths=[])
        gate = Gate.C(name="gate", log=log, release=release)
        gate.add_dependencies(token.dependency(2))
        gate.submit()
        gate_job = gate.__xpm__.job
        await wait_until_async(lambda: gate_job.state is JobState.RUNNING, 300,
                               "the gate job to run", step=0.02)
        tasks = []
        for i in range(N):  # one cell submitting 2,000 jobs
            task = Append.C(value=i, log=log)
            task.add_dependencies(token.dependency(1))
            task.submit()
            tasks.append(task)
        jobs = [t.__xpm__.job for t in tasks]
        await wait_until_async(lambda: all(j.state is JobState.READY for j in jobs), 300,
                               f"the {N} jobs ready")
        holders = json.loads(token.path.read_text())
        queued = {j.state for j in jobs}
        for job in jobs[RUN:]:
            assert job.cancel()
        release.touch()
        await all_ended([*jobs, gate_job], 600)
        xp.close()
        await asyncio.sleep(0)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        # Every job coroutine ends with its job (a moment after its end is announced).
        try:
            await wait_until_async(lambda: not scheduler_tasks() - before, 30,
                                   "the jobs' coroutines to end")
        except AssertionError:
            others += list(scheduler_tasks() - before)
        return xp, gate_job, jobs, holders, queued, others

    xp, gate_job, jobs, holders, queued, others = asyncio.run(notebook())
    assert queued == {JobState.READY}, "some job did not wait for the token"
    assert holders == {str(gate_job.path): [2, os.getpid()]}, "held by a queued job"
    assert len(xp.jobs) == N + 1
    assert not others, f"coroutines left running: {others[:3]}"
    ran = [line for line in log_lines(log) if line[0] not in ("start", "end")]
    assert sorted(int(x[0]) for x in ran) == list(range(RUN)), "a job ran twice or wrongly"
    spans = sorted((float(x[2]), 1) for x in ran) + sorted((float(x[3]), -1) for x in ran)
    running = peak = 0
    for _, delta in sorted(spans):
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    assert all(j.state is JobState.DONE for j in jobs[:RUN])
    for job in jobs[RUN:]:
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        # Cancelled while waiting for the token: never prepared, so no folder
        # (params.json is written when a job gets its slot, right before it runs).
        assert not job.path.exists()
    assert json.loads(token.path.read_text()) == {}
    lines = (xp.run_path / "jobs.jsonl").read_text().splitlines()
    assert len(lines) == N + 1
    assert_workspace_consistent(workdir)
