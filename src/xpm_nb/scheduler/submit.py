"""``task.submit()`` and waiting on what it returns."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from pathlib import Path

from ..core.context import JobContext
from ..core.objects import ConfigMixin
from ..core.prepare import Preparation, PrepareTask, checks_itself, collect_prepares
from ..core.walk import import_roots, iter_children, seal_tree
from ..errors import DependencyFailedError, InvalidArgumentError, JobFailedError, StateError
from ..layout import WorkspacePaths
from .jobs import Job, JobState
from .loopthread import wait_future

__all__ = ["submit", "wait", "wait_async", "job_of"]

logger = logging.getLogger("xpm_nb.scheduler")


def submit(task, *, workspace=None, launcher=None, run_mode=None, init_tasks=(),
           max_retries=None, transient=None):
    """Seal ``task``, create its job in the current experiment, return its outputs at once."""
    from .experiment import experiment
    from .workspace import RunMode

    info = task.__xpm__
    if info.job is not None:
        return _outputs(task)
    if run_mode is None and workspace is not None:
        run_mode = workspace.run_mode  # as the reference: the given workspace's mode
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
    _add_prepares(job, task)
    job.import_roots = import_roots(task)
    for hook in _submit_hooks(task):
        hook.process(job, job.launcher)
    job.launcher.onSubmit(job)
    if job.run_mode is RunMode.PREPARE:
        info.job = _prepare_only(job)
        info.job.watched_outputs.extend(info.watched_outputs)
        return _outputs(task)
    info.job = xp.add_job(job)
    info.job.watched_outputs.extend(info.watched_outputs)
    return _outputs(task)


class _NoWorkspace:
    """Stands for "any workspace" when a dry run has none: job paths relative to it."""

    path = Path()
    launcher = None

    def job_path(self, typeid: str, identifier: str) -> Path:
        return WorkspacePaths(self.path).job(typeid, identifier)


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


def _add_prepares(job: Job, task) -> None:
    """The preparations ``task`` needs: a job's (a submitted Prepare) is a
    dependency; the others run in the driver before it (``job.prepares``).
    With ``RunMode.PREPARE`` a submitted Prepare is prepared here too."""
    from .workspace import RunMode

    configs = collect_prepares(task)
    if isinstance(task, PrepareTask) and job.run_mode is RunMode.PREPARE:
        configs.insert(0, task.target)
    for config in configs:
        preparation = Preparation.for_config(config)
        prep_job = _current(preparation.job)
        if prep_job is not None and job.run_mode is not RunMode.PREPARE:
            if prep_job not in job.dependencies:
                job.dependencies.append(prep_job)
        else:
            job.prepares.append(preparation)


def _current(job: Job | None) -> Job | None:
    """``job`` if it is one of the current experiment's (else an earlier one's: unused)."""
    from .experiment import experiment

    xp = experiment.CURRENT
    if job is None or xp is None or job.scheduler is not xp.scheduler:
        return None
    return job


def submit_prepare(config, *, workspace=None, launcher=None, run_mode=None,
                   max_retries=None, transient=None):
    """``prep.submit()``: a ``PrepareTask`` job prepares ``config``; returns ``config``."""
    from .workspace import TransientMode

    if not checks_itself(config):
        name = type(config).__xpmtype__.cls.__qualname__
        msg = (f"{name} cannot be submitted as a job: it does not implement is_prepared(). "
               "The job's .done marker alone cannot be trusted, as a Prepare writes outside "
               "its job folder. Fix: implement is_prepared(), or do not call submit() "
               "(it is then prepared in the driver before the tasks using it)")
        raise InvalidArgumentError(msg)
    preparation = Preparation.for_config(config)
    if _current(preparation.job) is not None:
        return config  # submitted already (or an identifier-equal configuration)
    wrapper = PrepareTask.C(target=config)
    # Its dependencies (tokens) are the job's: the caller has no other handle on it.
    wrapper.__xpm__.dependencies.extend(config.__xpm__.dependencies)
    submit(wrapper, workspace=workspace, launcher=launcher, run_mode=run_mode,
           max_retries=max_retries, transient=transient or TransientMode.TRANSIENT)
    preparation.job = wrapper.__xpm__.job
    return config


def _prepare_only(job: Job) -> Job:
    """``RunMode.PREPARE``: run the task's preparations now (in this thread, as the
    reference), and not the task: nothing is scheduled, no job folder written."""
    for preparation in job.prepares:
        preparation.ensure()
    logger.info("prepare mode: %s %s", job.locator,
                ", ".join(map(repr, job.prepares)) or "(nothing to prepare)")
    job._done = concurrent.futures.Future()  # waiting returns at once: nothing to run
    job._done.set_result(JobState.UNSCHEDULED)
    return job


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

    submit_hook = getattr(type(task), "__submit__", None)
    if submit_hook is not None:
        # The reference's other spelling of task_outputs (datamaestro uses it),
        # also given the experiment's add_action (None: we have no actions).
        from .experiment import experiment

        add_action = getattr(experiment.CURRENT, "add_action", None)
        return submit_hook(task, marker, add_action)
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
        if producer is not None and config.__xpm__.dynamic_output:
            return  # a dynamic output (watch_output): usable while its task runs
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
    raise StateError(msg)


def _check(job: Job, check: bool) -> JobState:
    """The job's final state, as the reference's ``job.wait()`` returns it:
    DONE, UNSCHEDULED when nothing was run (dry run, generate only, prepare
    mode), ERROR when it failed: logged once (why, where its log is) so that a
    failure never passes silently; with ``check=True`` it raises instead."""
    state = job.state
    if state is JobState.DONE or state is JobState.UNSCHEDULED or not check:
        if state is JobState.ERROR:
            job.report_failure(logger)
        return state
    cls = DependencyFailedError if job.dependency_failed else JobFailedError
    error = cls(job.failure_message())
    error.state, error.job = state, job
    raise error


def wait(obj, timeout: float | None = None, *, check: bool = False) -> JobState:
    """Block this thread until the job of ``obj`` ends; its final state.

    As the reference: ``JobState.DONE``, or the error state of a failed job
    (logged with where its log is), also once the experiment has exited.
    ``check=True`` raises ``JobFailedError`` (``DependencyFailedError`` when
    a dependency failed; its ``state`` is ``JobState.ERROR``) instead. The
    scheduler runs in its own thread, so this works the same in a script, in
    a notebook cell (even in "Run All") and inside a running loop.
    """
    job = job_of(obj)
    while True:  # a resubmission while waiting starts a new run: wait for it
        done = job._done
        wait_future(done, timeout, f"waiting for job {job.locator}")
        if job._done is done:
            return _check(job, check)


async def wait_async(obj, *, check: bool = False) -> JobState:
    """Wait for the job of ``obj`` on the caller's loop (any loop); as :func:`wait`."""
    job = job_of(obj)
    while True:
        done = job._done
        await asyncio.shield(asyncio.wrap_future(done))
        if job._done is done:
            return _check(job, check)
