"""``task.submit()`` and waiting on what it returns."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

from ..core.context import JobContext
from ..core.objects import ConfigMixin
from ..core.walk import iter_children, seal_tree
from ..errors import DependencyFailedError, JobFailedError, XPMError
from .jobs import Job, JobState
from .loopthread import wait_future

__all__ = ["submit", "wait", "wait_async", "job_of"]


def submit(task, *, workspace=None, launcher=None, run_mode=None, init_tasks=(),
           max_retries=None, transient=None):
    """Seal ``task``, create its job in the current experiment, return its outputs at once."""
    from .experiment import experiment
    from .workspace import RunMode

    info = task.__xpm__
    if info.job is not None:
        return _outputs(task)
    if experiment.CURRENT is None and run_mode is RunMode.DRY_RUN:
        return _dry_run_detached(task, workspace, launcher, init_tasks, max_retries, transient)
    xp = experiment.current()
    workspace = workspace or xp.workspace
    info.init_tasks = list(init_tasks)
    info.task = task
    seal_tree(task)
    job = Job(task, workspace=workspace, launcher=launcher or workspace.launcher,
              run_mode=run_mode or xp.run_mode, max_retries=max_retries, transient=transient)
    # Generated paths (PathGenerator) now that the job folder is known.
    seal_tree(task, JobContext(job.path, workspace.path))
    job.dependencies = _dependencies(task)
    for hook in _submit_hooks(task):
        hook.process(job, job.launcher)
    job.launcher.onSubmit(job)
    info.job = xp.add_job(job)
    info.job.watched_outputs.extend(info.watched_outputs)
    return _outputs(task)


class _NoWorkspace:
    """Stands for "any workspace" when a dry run has none: job paths relative to it."""

    path = Path()
    launcher = None

    def job_path(self, typeid: str, identifier: str) -> Path:
        return Path("jobs") / typeid / identifier


def _dry_run_detached(task, workspace, launcher, init_tasks, max_retries, transient):
    """``submit(run_mode=RunMode.DRY_RUN)`` with no experiment: learn the job's id and path.

    Like the reference, the job is only created (state unscheduled): nothing is
    scheduled and nothing is written. Its folder is the one it has in
    ``workspace`` (else the current workspace); with no workspace at all, it is
    relative to the workspace (``jobs/<task id>/<identifier>``).
    """
    from .workspace import RunMode, Workspace

    info = task.__xpm__
    workspace = workspace or Workspace.CURRENT or _NoWorkspace()
    info.init_tasks = list(init_tasks)
    info.task = task
    seal_tree(task)
    launcher = launcher or workspace.launcher
    job = Job(task, workspace=workspace, launcher=launcher, run_mode=RunMode.DRY_RUN,
              max_retries=max_retries, transient=transient)
    seal_tree(task, JobContext(job.path, workspace.path))
    job.dependencies = _dependencies(task)
    for hook in _submit_hooks(task):
        hook.process(job, launcher)
    job._done = concurrent.futures.Future()  # waiting returns at once: nothing to run
    job._done.set_result(JobState.UNSCHEDULED)
    info.job = job
    job.watched_outputs.extend(info.watched_outputs)
    return _outputs(task)


def _submit_hooks(task) -> list:
    """The task's hooks: its classes' (``@hook`` decorators) then its own, each spec once."""
    hooks: dict = {}
    for klass in reversed(type(task).__mro__):
        for hook in klass.__dict__.get("__xpm_submit_hooks__", ()):
            hooks.setdefault(hook, hook)
    for hook in task.__xpm__.submit_hooks:
        hooks.setdefault(hook, hook)
    return list(hooks)


def _outputs(task):
    def marker(config):
        config.__xpm__.task = task
        return config

    return task.task_outputs(marker)


def _dependencies(task) -> list[Job]:
    """Jobs of the submitted tasks this task's configuration uses."""
    found: dict[int, Job] = {}
    seen: set[int] = set()

    def visit(config):
        if id(config) in seen:
            return
        seen.add(id(config))
        producer = config.__xpm__.task
        if producer is not None and producer is not task and producer.__xpm__.job is not None:
            found[id(producer)] = producer.__xpm__.job
            return
        if config is not task and config.__xpm__.job is not None:
            found[id(config)] = config.__xpm__.job
            return
        d = config.__dict__
        for name in config.__xpmtype__.arguments:
            if name in d:
                for _, child in iter_children(d[name]):
                    visit(child)
        for init in config.__xpm__.init_tasks:
            visit(init)

    visit(task)
    # Explicit dependencies (``task.add_dependencies(other_task)``); tokens are not jobs.
    for dep in task.__xpm__.dependencies:
        if isinstance(dep, Job):
            found[id(dep)] = dep
        elif isinstance(dep, ConfigMixin):
            found[id(dep)] = job_of(dep)
    return list(found.values())


def job_of(obj) -> Job:
    """The job behind a Job, a submitted task or one of its outputs."""
    if isinstance(obj, Job):
        return obj
    if isinstance(obj, ConfigMixin):
        info = obj.__xpm__
        if info.job is not None:
            return info.job
        if info.task is not None and info.task.__xpm__.job is not None:
            return info.task.__xpm__.job
    msg = f"{obj!r} is not a submitted task (nor one of its outputs): submit it first"
    raise XPMError(msg)


def _check(job: Job, obj):
    if job.state is JobState.DONE:
        return obj
    cls = DependencyFailedError if (job.failure_reason or "").startswith("dependency") else (
        JobFailedError
    )
    if job.state is JobState.UNSCHEDULED:
        return obj  # dry-run / generate-only: nothing was run
    raise cls(job.failure_message())


def wait(obj, timeout: float | None = None):
    """Block this thread until the job of ``obj`` is finished; raise if it failed.

    The scheduler runs in its own thread, so this works the same in a script, in
    a notebook cell (even in "Run All") and inside a running asyncio loop.
    """
    job = job_of(obj)
    while True:  # a resubmission while waiting starts a new run: wait for it
        done = job._done
        wait_future(done, timeout, f"waiting for job {job.locator}")
        if job._done is done:
            return _check(job, obj)


async def wait_async(obj):
    """Wait for the job of ``obj`` on the caller's loop (any loop); raise if it failed."""
    job = job_of(obj)
    while True:
        done = job._done
        await asyncio.shield(asyncio.wrap_future(done))
        if job._done is done:
            return _check(job, obj)
