"""Dependencies handed to SLURM (``--dependency``) instead of waited for in the driver.

A job whose dependencies are SLURM jobs of the same cluster, already
submitted, is submitted at once with ``--dependency=afterok:<ids>`` (or
``aftercorr`` for a whole array, see ``arrays.py``): a DAG flows on the
cluster without a round trip through the notebook. The scheduler asks
:func:`take_over` (through ``SlurmLauncher.queue_after``) which dependencies
it must still wait for itself:

- ended ones (the scheduler checks they are done);
- those on another launcher or cluster, or followed by their pid only;
- ``ResumableTask`` ones: a time limit resubmits them under a new SLURM id,
  which SLURM's ``afterok`` on the old id would never see.

Which SLURM job runs each job now is noted per run of the job (``job._done``,
replaced by a resubmission), so a stale id is never used.
"""

from __future__ import annotations

import asyncio
import weakref

__all__ = ["note_submitted", "take_over", "pop_after", "failed_dependency"]

# job -> (cluster key, SLURM id, the job's run it belongs to)
_SUBMITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_WAITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # job -> [Future]
_AFTER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # job -> [(dep, id)]


def note_submitted(job, cluster, jobid: str) -> None:
    """``job``'s current run is the SLURM job ``jobid`` of ``cluster`` (on the loop)."""
    _SUBMITTED[job] = (cluster, jobid, job._done)
    for waiter in _WAITERS.pop(job, []):
        if not waiter.done():
            waiter.set_result(None)


def pop_after(job) -> list:
    """The ``(dependency, SLURM id)`` pairs SLURM must wait for before ``job`` starts."""
    return _AFTER.pop(job, [])


def failed_dependency(after: list) -> str | None:
    """The reason a job can no longer run: one of its ``(dependency, id)`` failed."""
    for dep, _ in after:
        if dep.state.finished and dep.state.value != "done":
            return (f"dependency failed: {dep.locator} ({dep.failure_reason}); "
                    f"log: {dep.stderr}")
    return None


def _current(job, cluster) -> str | None:
    noted = _SUBMITTED.get(job)
    if noted is None or noted[2] is not job._done or noted[0] != cluster:
        return None
    return noted[1]


def _resumable(job) -> bool:
    from ...core.objects import ResumableTask

    return isinstance(job.config, ResumableTask)


def _candidate(dep, cluster) -> bool:
    launcher = dep.launcher
    return getattr(launcher, "cluster", None) == cluster and not _resumable(dep)


async def _submitted_or_ended(dep, cluster) -> str | None:
    """The SLURM id of ``dep``'s run once submitted, or None once it ended first."""
    while True:
        jobid = _current(dep, cluster)
        if jobid is not None and not dep._done.done():
            return jobid
        if dep._done.done():
            return None
        waiter = asyncio.get_running_loop().create_future()
        _WAITERS.setdefault(dep, []).append(waiter)
        ended = asyncio.ensure_future(asyncio.shield(asyncio.wrap_future(dep._done)))
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()


async def take_over(launcher, job) -> list:
    """The dependencies of ``job`` the scheduler must wait for; the others, queued on
    ``launcher``'s cluster, are recorded for ``--dependency`` (:func:`pop_after`)."""
    cluster = launcher.cluster
    waited, after = [], []
    for dep in job.dependencies:
        jobid = await _submitted_or_ended(dep, cluster) if _candidate(dep, cluster) else None
        if jobid is None:
            waited.append(dep)
        else:
            after.append((dep, jobid))
    if after:
        _AFTER[job] = after
    return waited
