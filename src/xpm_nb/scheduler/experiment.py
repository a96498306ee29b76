"""``experiment``: a named run of submissions into a workspace.

Opened when created, so that in a notebook ``xp = experiment(ws, "name")``
stays open across cells (``xp.wait()``, ``await xp``, ``xp.close()``); in a
script ``with experiment(...) as xp:`` waits for its jobs at the end.

Its jobs run on the scheduler's loop, in its own thread (``loopthread.py``):
waiting blocks the caller's thread or awaits on the caller's loop, and never
re-enters a running loop. A grid where some runs failed is normal: waiting
logs each failed job with its log and sets ``xp.failed``; ``raise_if_failed()``
(or ``wait(check=True)``) raises ``FailedExperiment`` for those who want it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import json
import logging
import os
import platform
import socket
import sys
import time
from pathlib import Path

from ..errors import (
    FailedExperiment,
    InvalidArgumentError,
    InvalidTypeError,
    ServiceError,
    StateError,
    WaitTimeoutError,
    WorkspaceError,
    add_note,
)
from ..launchers import check_env_name
from ..layout import ExperimentPaths, RunPaths, jobs_line
from .jobs import Job, JobState
from .loopthread import ensure_not_on_loop, scheduler_loop
from .objects_file import ObjectsFile
from .runlock import RunLock
from .scheduler import Scheduler
from .workspace import RunMode, Workspace, WorkspaceSettings, experiment_name_problem

__all__ = ["experiment", "FailedExperiment", "DirtyGitAction"]

logger = logging.getLogger("xpm_nb.experiment")


class DirtyGitAction(enum.Enum):
    IGNORE = "ignore"
    WARN = "warn"
    ERROR = "error"


class experiment:  # noqa: N801 - the reference's name
    """Context manager (or notebook object) for running experiments."""

    CURRENT: experiment | None = None

    def __init__(self, env, name: str, *, host=None, port=None, token=None,
                 run_mode: RunMode | None = None, launcher=None, register_signals=True,
                 project_paths=None, wait_for_quit=False,
                 dirty_git: DirtyGitAction = DirtyGitAction.WARN, no_db=False,
                 no_environmental_impact=False):
        if not isinstance(name, str):
            msg = f"experiment name must be a str (got {name!r})"
            raise InvalidTypeError(msg)
        problem = experiment_name_problem(name)
        if problem is not None:
            raise InvalidArgumentError(f"experiment name: {problem}")
        settings = env if isinstance(env, WorkspaceSettings) else WorkspaceSettings(env)
        self.name = name
        self.run_mode = run_mode or RunMode.NORMAL
        self.workspace = Workspace(settings, run_mode=self.run_mode)
        if launcher is None:
            from ..launchers.direct import DirectLauncher

            launcher = DirectLauncher(self.workspace.connector)
        self.workspace.launcher = launcher
        self.host, self.port, self.token = host, port, token
        self.services: dict = {}
        self.wait_for_quit = wait_for_quit
        # The code's git state (environment.json); dirty_git=error stops here.
        from ..gitstate import caller_project_path, check_dirty, project_states

        self.project_paths = ([Path(p) for p in project_paths] if project_paths is not None
                              else [caller_project_path()])
        self.git_states = project_states(self.project_paths)
        check_dirty(self.git_states, dirty_git)
        self.loop = scheduler_loop()  # shared by every experiment of the process
        self.scheduler = Scheduler(self.loop)
        self._reported: set[str] = set()  # failed jobs already logged
        self.closed = False
        self.server = None
        self.run_lock: RunLock | None = None
        self._objects: ObjectsFile | None = None  # the run's objects.jsonl
        try:
            self._open()
        except BaseException:
            self._release_run_lock()
            raise
        if port is not None:  # the monitoring page (xpm_nb.server)
            from ..server import MonitoringServer

            try:
                self.server = MonitoringServer(self, host, port, token).start()
            except OSError as exc:
                status_error = self._close()
                msg = (f"cannot serve the monitoring page on {host or '127.0.0.1'}:{port} "
                       f"({exc.strerror or exc}). Fix: another port (port=0: any free one)")
                error = ServiceError(msg)
                if status_error is not None:
                    add_note(error, self._status_error_message(status_error))
                raise error from exc

    def __repr__(self) -> str:
        return f"experiment({str(self.workspace.path)!r}, {self.name!r})"

    # --- lifecycle ----------------------------------------------------------

    def _open(self) -> None:
        from ..core import taskglobals

        if self.run_mode is not RunMode.DRY_RUN:
            self.workspace.ensure()
        self.run_id = time.strftime("%Y%m%d_%H%M%S")
        self.workspace.run_id = self.run_id
        self.xp_path = self.workspace.experiment_path(self.name)
        self.run_path = self.xp_path / self.run_id
        if self.run_mode is not RunMode.DRY_RUN:
            n = 1
            fs = self.workspace.connector  # the workspace's host (SFTP if remote)
            while fs.exists(self.run_path):  # two runs in the same second
                self.run_path = self.xp_path / f"{self.run_id}.{n}"
                n += 1
            fs.mkdir(self.run_path, parents=True, exist_ok=False)
            xp_paths = ExperimentPaths(self.xp_path)
            fs.append(xp_paths.lock, b"")  # the reference's lock file (spec)
            # Held until close (or the process's death): readers tell a live run
            # from one whose driver died by it (runlock.py).
            self.run_lock = RunLock(fs, self.run_paths.lock)
            self.run_lock.acquire()
            current = xp_paths.current
            tmp = self.xp_path / f".current.{os.getpid()}"
            fs.unlink(tmp, missing_ok=True)
            fs.symlink(self.run_path.name, tmp)
            fs.rename(tmp, current)
            self._write_environment()
            self._write_status("running")
            self._objects = ObjectsFile(fs, self.run_paths.objects)
            self._objects.flush()  # the reference's load_xp_info needs the file
        experiment.CURRENT = self
        Workspace.CURRENT = self.workspace
        taskglobals.set_workspace(self.workspace.path)

    @staticmethod
    def current() -> experiment:
        """The current experiment (the last opened and not closed)."""
        if experiment.CURRENT is None:
            msg = (
                "no experiment is open. Fix: `with experiment(workdir, 'name') as xp:` in a "
                "script, or `xp = experiment(workdir, 'name')` in a notebook"
            )
            raise StateError(msg)
        return experiment.CURRENT

    def __enter__(self) -> experiment:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.wait()
        except BaseException as failure:
            # Close whatever happens; the failure (e.g. FailedExperiment) stays the
            # error raised, with the unwritten status noted on it.
            self._close_noting(failure)
            raise
        if exc is not None:
            self._close_noting(exc)
        else:
            self.close()

    def close(self) -> None:
        """Stop tracking (running jobs go on; their folders keep the truth).

        The experiment is closed whatever happens. If the run's ``status.json``
        cannot be written (a full disk...), a ``WorkspaceError`` naming it is
        raised once closed: the run's record is incomplete.
        """
        status_error = self._close()
        if status_error is not None:
            raise WorkspaceError(self._status_error_message(status_error)) from status_error

    def _close_noting(self, error: BaseException) -> None:
        """Close, adding to ``error`` a note if the status could not be written (or the
        closing failed): ``error`` stays the one raised."""
        try:
            status_error = self._close()
        except Exception as close_error:  # noqa: BLE001 - e.g. a service that fails to stop
            add_note(error, f"then closing experiment {self.name!r} failed: {close_error!r}")
            return
        if status_error is not None:
            add_note(error, self._status_error_message(status_error))

    def _close(self) -> OSError | None:
        """Close (once); returns the error of the final status write, if any."""
        if self.closed:
            return None
        self.closed = True
        status_error = None
        try:
            self.scheduler.drop_unneeded()
            if self.server is not None:
                if self.wait_for_quit:
                    self.server.wait_for_quit()
                self.server.stop()
            for service in list(self.services.values()):
                if hasattr(service, "stop"):
                    service.stop()
        finally:
            try:
                if self._objects is not None:
                    self._objects.close()  # a warning if its host cannot take it
                if self.run_mode is not RunMode.DRY_RUN:
                    status_error = self._write_final_status()
            finally:
                # Released after the final status: a reader never sees "running"
                # with the lock free while this process lives.
                self._release_run_lock()
                if experiment.CURRENT is self:
                    experiment.CURRENT = None
        return status_error

    def _write_final_status(self) -> OSError | None:
        """Write "done" or "failed" best-effort: a failed write is logged and returned."""
        failed = [j for j in self.jobs if j.state is JobState.ERROR]
        try:
            self._write_status("failed" if failed else "done")
        except OSError as exc:
            logger.warning("experiment %r: cannot write %s: %s", self.name,
                           self.run_paths.status, exc)
            return exc
        return None

    def _status_error_message(self, exc: OSError) -> str:
        return (f"experiment {self.name!r} closed, but its run's status could not be "
                f"recorded in {self.run_paths.status} ({exc}): it still says "
                f"'running', and listings show the run as crashed. The jobs' own folders "
                f"keep their states. Fix the disk (space, permissions) for the next runs")

    def _release_run_lock(self) -> None:
        if self.run_lock is None:
            return
        try:
            self.run_lock.release()
        except Exception as exc:  # noqa: BLE001 - e.g. an SSH link gone (its lock with it)
            logger.warning("experiment %r: releasing %s: %s", self.name, self.run_lock.path,
                           exc)

    # --- paths (the reference's properties) ------------------------------

    @property
    def workdir(self) -> Path:
        """This run's folder, ``<workspace>/experiments/<name>/<run id>`` (as the
        reference's ``xp.workdir``: the run, not the workspace, which is
        ``xp.workspace.path``). It holds ``environment.json``, ``jobs.jsonl`` and the
        ``jobs/`` links; in dry-run mode it is not created."""
        return self.run_path

    @property
    def run_paths(self) -> RunPaths:
        """Every file of this run's folder (:mod:`xpm_nb.layout`)."""
        return RunPaths(self.run_path)

    @property
    def resultspath(self) -> Path:
        """Where the experiment's own results can be stored: ``xp.workdir / "results"``
        (as the reference; the folder is not created: ``mkdir`` it before writing).
        Only in the normal run mode: in any other mode (dry run, generate, prepare)
        this raises ``StateError`` (a ``RuntimeError``), so that no files appear outside a real run."""
        if self.run_mode is not RunMode.NORMAL:
            msg = (f"xp.resultspath is not available in {self.run_mode.value} mode; guard "
                   "the call with `if xp.run_mode == RunMode.NORMAL` to avoid creating "
                   "files outside a real run.")
            raise StateError(msg)
        return self.workdir / "results"

    # --- jobs -------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        return list(self.scheduler.jobs.values())

    def add_job(self, job: Job) -> Job:
        """Hand ``job`` to the scheduler (returns at once; no I/O on the caller's thread)."""
        record = None if self.run_mode is RunMode.DRY_RUN else self._record_job
        submitted = self.scheduler.submit(job, on_start=record)
        return submitted

    def _record_job(self, job: Job) -> None:
        """The run's record of ``job`` (``jobs.jsonl`` line, link): on the job's I/O thread."""
        fs = self.workspace.connector
        run = self.run_paths
        fs.append(run.jobs_jsonl, jobs_line(job.identifier, job.type_id, job.tags,
                                            job.submitted_time))
        link = run.job_link(job.type_id, job.identifier)
        fs.mkdir(link.parent, parents=True, exist_ok=True)
        try:
            fs.symlink(job.path, link)
        except FileExistsError:
            pass
        if self._objects is not None:
            try:
                self._objects.add(job.config)
            except Exception as exc:  # noqa: BLE001 - as the reference: the job still runs
                logger.warning("job %s: not written in %s: %s", job.locator,
                               self._objects.path, exc)

    def failed_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.state is JobState.ERROR]

    @property
    def failed(self) -> bool:
        """Whether a job of this experiment failed (``failed_jobs()`` lists them)."""
        return any(j.state is JobState.ERROR for j in self.jobs)

    def wait(self, timeout: float | None = None, *, check: bool = False) -> None:
        """Wait until every job is finished (blocks this thread; jobs go on meanwhile).

        Failed jobs are logged with their logs and ``xp.failed`` is set; with
        ``check=True`` a ``FailedExperiment`` listing them is raised.
        """
        ensure_not_on_loop(f"experiment {self.name!r}.wait()")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = self._pending()
            if not pending:
                break
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            _, not_done = concurrent.futures.wait(pending, timeout=left)
            if not_done and deadline is not None and time.monotonic() >= deadline:
                msg = (f"experiment {self.name!r}: {len(not_done)} job(s) not finished after "
                       f"{timeout} s (they go on)")
                raise WaitTimeoutError(msg)
        self._report_failures()
        if check:
            self.raise_if_failed()

    async def wait_async(self, *, check: bool = False) -> None:
        """``await`` every job on the caller's loop (any loop); see ``wait``."""
        while True:
            pending = self._pending()
            if not pending:
                break
            await asyncio.gather(*(asyncio.shield(asyncio.wrap_future(f)) for f in pending))
        self._report_failures()
        if check:
            self.raise_if_failed()

    def _pending(self) -> list:
        return [j._done for j in self.jobs
                if not j._done.done() and self.scheduler.is_awaited(j)]

    def __await__(self):
        return self.wait_async().__await__()

    def _report_failures(self) -> None:
        """Log each failed job once, with why and where its log is."""
        for job in self.failed_jobs():
            if job.identifier not in self._reported:
                self._reported.add(job.identifier)
                job.report_failure(logger, f"experiment {self.name!r}: ")

    def raise_if_failed(self) -> None:
        """Raise ``FailedExperiment`` listing the failed jobs (with their logs), if any."""
        failed = self.failed_jobs()
        if failed:
            lines = [f"- {j.failure_message()}" for j in failed]
            msg = f"{len(failed)} job(s) of experiment {self.name!r} failed:\n" + "\n".join(lines)
            raise FailedExperiment(msg)

    # --- services and environment -----------------------------------------

    def add_service(self, service):
        """Add a service (e.g. a TensorBoard viewer); returns it (or the existing one)."""
        sid = getattr(service, "id", None) or type(service).__name__
        if sid in self.services:
            return self.services[sid]
        self.services[sid] = service
        if hasattr(service, "set_experiment"):
            service.set_experiment(self)
        return service

    def setenv(self, name: str, value: str) -> None:
        """Set an environment variable for the jobs of this experiment."""
        self.workspace.env[check_env_name(name)] = value

    # --- run files ----------------------------------------------------------

    def _write_environment(self) -> None:
        # Versions from the ``name-version.dist-info`` folder names: parsing every
        # distribution's metadata (importlib.metadata) takes about a second.
        packages: dict[str, str] = {}
        for entry in sys.path:
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            for folder in names:
                if folder.endswith((".dist-info", ".egg-info")):
                    name, sep, version = folder.rsplit(".", 1)[0].partition("-")
                    if sep and name not in packages:  # the first on sys.path is imported
                        packages[name] = version.split("-")[0]
        data = {"python_version": platform.python_version(), "executable": sys.executable,
                "hostname": socket.gethostname(), "packages": packages,
                "projects": getattr(self, "git_states", [])}
        self.workspace.connector.write_atomic(self.run_paths.environment,
                                              json.dumps(data, indent=2))

    def _write_status(self, status: str) -> None:
        data = {"version": 1, "experiment_id": self.name, "run_id": self.run_path.name,
                "status": status, "hostname": socket.gethostname(),
                "job_states": {j.identifier: j.state.value for j in self.jobs},
                "last_updated": time.time()}
        self.workspace.connector.write_atomic(self.run_paths.status, json.dumps(data))
