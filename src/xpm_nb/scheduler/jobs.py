"""Jobs: a task's folder, its files, and its state read from them.

The marker files are the truth: ``<name>.done`` exists for a success,
``<name>.failed`` holds ``{"code", "reason"}``, ``<name>.pid`` names the
running process. Memory only caches what the files say.
"""

from __future__ import annotations

import enum
import json
import time
from pathlib import Path
from typing import Any

from ..launchers import check_env_name
from ..layout import (
    JobFiles,
    JobPaths,
    boot_id,
    failed_content,
    folder_state,
    job_name,
    parse_json_object,
    parse_pid_file,
    parse_time,
    pid_alive,
    pid_is_live,
    process_identity,
    process_starttime,
    same_process,
    status_retry_count,
    status_times,
)

__all__ = ["JobState", "JobPaths", "Job", "read_disk_state", "live_pid", "same_process",
           "process_identity", "process_starttime", "boot_id", "pid_alive", "parse_time"]


class _Answer:
    """A yes/no read both as a property (``state.finished``, ours) and as a call
    (``state.finished()``, the reference's)."""

    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __call__(self) -> bool:
        return self.value

    def __eq__(self, other) -> bool:
        if isinstance(other, (bool, _Answer)):
            return self.value == bool(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


_YES, _NO = _Answer(True), _Answer(False)


class JobState(enum.Enum):
    """A job's state, with the reference's questions: ``notstarted()``,
    ``running()`` (scheduled or running), ``finished()`` (done or failed),
    ``is_error()``, ``is_unscheduled()``."""

    UNSCHEDULED = "unscheduled"
    WAITING = "waiting"  # dependencies not done yet
    READY = "ready"  # may start (waiting for a token or a slot)
    SCHEDULED = "scheduled"  # submitted to a cluster, pending there
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"

    @property
    def finished(self) -> _Answer:
        """Done or failed (``state.finished`` or ``state.finished()``)."""
        return _YES if self in (JobState.DONE, JobState.ERROR) else _NO

    def notstarted(self) -> bool:
        """Not started yet: unscheduled, waiting for dependencies, or ready."""
        return self in (JobState.UNSCHEDULED, JobState.WAITING, JobState.READY)

    def running(self) -> bool:
        """Started: scheduled on a cluster or running."""
        return self in (JobState.SCHEDULED, JobState.RUNNING)

    def is_error(self) -> bool:
        return self is JobState.ERROR

    def is_unscheduled(self) -> bool:
        return self is JobState.UNSCHEDULED


def live_pid(info, connector=None) -> int | None:
    """The pid a pid file's content names if that process runs (this host), else None.

    For a pid file of another host, the pid (it cannot be checked from here).
    The check every reader of a pid file should make before trusting "running"
    or signalling the pid (``xpm-nb jobs kill``, listings); ``info`` as
    :func:`xpm_nb.layout.parse_pid_file` gives it.
    """
    if connector is None:
        from ..connectors.local import LocalConnector

        connector = LocalConnector.instance()
    return pid_is_live(info, connector.hostname, connector.pid_alive, connector.is_local)


def read_disk_state(paths: JobPaths, connector=None) -> tuple[JobState | None, dict]:
    """The state the job folder says: DONE, ERROR, RUNNING (live pid) or None.

    One path for every host: ``connector`` (None: this machine) reads the
    folder (2-4 calls; round trips for a remote host). The rules are
    :func:`xpm_nb.layout.folder_state`'s.
    """
    if connector is None:
        from ..connectors.local import LocalConnector

        connector = LocalConnector.instance()
    state, info = folder_state(paths, connector.exists, connector.read_optional,
                               lambda pid_info: live_pid(pid_info, connector))
    return (JobState(state) if state else None), info


class _JobEnviron(dict):
    """A job's environment (a plain dict for readers) whose writes are kept by the job."""

    def __init__(self, own: dict):
        super().__init__()
        self._own = own

    def __setitem__(self, key, value) -> None:
        check_env_name(key, "job environment variable")
        super().__setitem__(key, value)
        self._own[key] = value

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


class Job(JobFiles):
    """A resource produced by running a task: its folder, state and process.

    The folder is on the host of the workspace's connector: every file
    access below goes through ``self.connector`` when it is remote (the
    local path is unchanged, with no extra system call). Its reference path
    attributes (``jobpath``, ``stdout``...) are :class:`~xpm_nb.layout.JobFiles`'.
    """

    _connector = None  # cached by the ``connector`` property

    def __init__(self, config, *, workspace=None, launcher=None, run_mode=None,
                 max_retries: int | None = None, transient=None, backup=None):
        from .workspace import RunMode, TransientMode

        self.config = config
        self.workspace = workspace
        self.launcher = launcher
        self.run_mode = run_mode or RunMode.NORMAL
        self.transient = transient or TransientMode.NONE
        if max_retries is None:  # the workspace's setting (settings.yaml), as the reference
            ws_settings = getattr(workspace, "workspace_settings", None)
            max_retries = getattr(ws_settings, "max_retries", 3)
        self.max_retries = max_retries
        xpmtype = config.__xpmtype__
        self.type_id: str = xpmtype.identifier
        self.identifier: str = config.__identifier__().hex()
        self.name: str = job_name(xpmtype.identifier)
        self.path: Path = workspace.job_path(self.type_id, self.identifier)
        self.paths = JobPaths(self.path, self.name)
        self.dependencies: list[Job] = []
        self.prepares: list = []  # Preparation of the Prepare configs it uses (in the driver)
        self.import_roots: list[str] = []  # folders its classes come from (core/walk.py)
        self.tags: dict[str, Any] = dict(config.tags())
        self.state = JobState.UNSCHEDULED
        self.failure_reason: str | None = None
        # A job it depends on failed, so it never ran: wait(check=True) raises
        # DependencyFailedError (set by the scheduler, or from the launcher's ProcessExit).
        self.dependency_failed = False
        self.exit_code: int | None = None
        self.last_exit = None  # the launcher's ProcessExit of the last run
        self.submitted_time = time.time()
        self.started_time: float | None = None
        self.ended_time: float | None = None
        self.retry_count = 0
        self._fresh_retries = False  # set by resubmit(): recorded failures do not count
        self.progress: list[dict] = []
        self.process = None
        self.environ_extra: dict[str, str] = {}
        self.listeners: list = []
        # Resolved (with the final state) when the current run ends: a thread-safe
        # future, so that any thread can block on it and any loop await it.
        self._done = None
        self._task = None  # the scheduler's asyncio task running this job
        self._cancelled = False
        self.scheduler = None  # set when submitted
        self.watched_outputs: list = []

    def __repr__(self) -> str:
        return f"Job({self.task_id}/{self.identifier[:12]}…, {self.state.value})"

    # --- reference API ----------------------------------------------------

    @property
    def task_id(self) -> str:
        return self.type_id

    @property
    def locator(self) -> str:
        return f"{self.type_id}/{self.identifier}"

    @property
    def scheduler_state(self) -> JobState:
        return self.state

    @property
    def environ(self) -> dict[str, str]:
        """The job environment: workspace, then launcher, then job (later wins).

        Writes (``job.environ["X"] = "1"`` in a SubmitHook) go to the job's own variables.
        """
        env = _JobEnviron(self.environ_extra)
        if self.workspace:
            dict.update(env, self.workspace.env)
        if self.launcher is not None:
            dict.update(env, getattr(self.launcher, "environ", {}) or {})
        dict.update(env, self.environ_extra)
        return env

    @property
    def python_path(self):
        yield from (self.workspace.python_path if self.workspace else [])

    def set_scheduler_state(self, state: JobState) -> None:
        self.state = state
        for listener in list(self.listeners):
            listener(self)

    # --- the job folder, on the connector's host --------------------------

    @property
    def connector(self):
        """The connector of the host holding the job folder (the workspace's)."""
        c = self._connector
        if c is None:
            if self.workspace is not None:
                c = self.workspace.connector
            else:
                from ..connectors.local import LocalConnector

                c = LocalConnector.instance()
            self._connector = c
        return c

    async def io(self, fn, *args):
        """``fn(*args)`` (file access of this job) without blocking the event loop.

        One path for every host: the connector runs it on its worker threads
        (for a remote host a dropped link makes it wait, never fail).
        """
        return await self.connector.call(fn, *args)

    def disk_state(self) -> tuple[JobState | None, dict]:
        """:func:`read_disk_state` of this job's folder, on its host."""
        return read_disk_state(self.paths, self.connector)

    def has_folder(self) -> bool:
        return self.connector.exists(self.path)

    def clear_failure(self) -> None:
        """Before a new run: remove the ``.failed`` marker and keep the old logs."""
        c = self.connector
        if c.exists(self.paths.failed):
            c.unlink(self.paths.failed)
            self.rotate_logs()

    def rotate_logs(self) -> None:
        """Keep the logs of an earlier run as ``<name>.<time>.out`` / ``.err``."""
        stamp = time.strftime("%Y%m%d%H%M%S")
        c = self.connector
        for path in (self.paths.stdout, self.paths.stderr):
            if c.size(path):
                c.rename(path, self.paths.old_log(stamp, path))

    def prepare_folder(self) -> None:
        """Check the job's host and create its folder; writes no job file (blocking)."""
        c = self.connector
        if getattr(self.launcher, "connector", c) is not c:
            _check_same_host(self, c)
        c.mkdir(self.paths.meta, parents=True, exist_ok=True)

    def prepare(self, overwrite: bool = False) -> None:
        """Write the job folder's files (blocking: ``await job.io(job.prepare, True)``).

        ``overwrite``: what a launch does (the reference rewrites them at every
        launch): ``params.json`` is written again (atomically) from the
        configuration, so a changed ``Meta`` value, a truncated file or files
        planted in the folder are never what runs, and a ``classes.pkl`` the
        configuration does not need is removed. Without it, only a missing
        ``params.json`` is written (generate-only mode). Never call it for a job
        found done or running elsewhere.
        """
        from ..core.params import CLASSES_FILE, write_params

        self.prepare_folder()
        c = self.connector
        if overwrite or not c.exists(self.paths.params):
            # A stale classes.pkl (an earlier run's, or planted) would be loaded by
            # the job process: removed first, written again if the classes need it.
            c.unlink(self.path / CLASSES_FILE, missing_ok=True)
            write_params(self.config, self.path, self.workspace.path, write=c.write_atomic)

    def process_state_dict(self) -> dict | None:
        """The pid file's content if it names this job's live process, else None.

        A stale pid file (its process gone, or its pid now another process's) gives None:
        nothing is ever signalled on its word.
        """
        try:
            info = parse_pid_file(self.connector.read_optional(self.paths.pid))
        except OSError:
            return None
        return info if live_pid(info, self.connector) is not None else None

    def watch_output(self, watched) -> None:
        self.watched_outputs.append(watched)

    def register_watched_outputs(self) -> None:
        """Take the watchers set on the task's configuration (once each)."""
        for watched in self.config.__xpm__.watched_outputs:
            if watched not in self.watched_outputs:
                self.watched_outputs.append(watched)

    async def aio_run(self):
        """Prepare the folder and start the job's process; returns its handle."""
        await self.io(self.prepare)
        self.process = await self.launcher.launch_async(self, self.environ)
        return self.process

    async def aio_done_handler(self) -> None:
        """Deliver the outputs the job registered and progress not read yet."""
        from .follow import JobFollower

        await JobFollower(self, lambda job: None).apoll()

    # --- acting through the scheduler ------------------------------------

    def cancel(self) -> bool:
        """Cancel this job (kill it if it runs); False if it was already finished."""
        return self.scheduler.cancel(self) if self.scheduler is not None else False

    def kill(self) -> bool:
        return self.cancel()

    def resubmit(self) -> Job:
        """Run this failed or cancelled job again (its failed dependencies too)."""
        if self.scheduler is None:
            from ..errors import StateError

            msg = f"job {self.locator} was never submitted: submit its task first"
            raise StateError(msg)
        return self.scheduler.resubmit(self)

    def failure_message(self) -> str:
        """One line for errors: which job, why it failed, where its log is."""
        return f"job {self.locator} failed: {self.failure_reason}. Log: {self.stderr}"

    def report_failure(self, log, prefix: str = "") -> None:
        """Log this run's failure once, whoever waited for it (the job, its experiment)."""
        if getattr(self, "_failure_reported", None) is self._done:
            return
        self._failure_reported = self._done
        log.warning("%s%s", prefix, self.failure_message())

    def status_dict(self) -> dict:
        return {
            "job_id": self.identifier,
            "task_id": self.type_id,
            "path": str(self.path),
            "state": self.state.value,
            "failure_reason": self.failure_reason,
            "submitted_time": self.submitted_time,
            "started_time": self.started_time,
            "ended_time": self.ended_time,
            "exit_code": self.exit_code,
            "retry_count": self.retry_count,
            "progress": self.progress,
            "tags": self.tags,
        }

    def recorded_times(self) -> tuple[float | None, float | None]:
        """Start and end of the last run as its folder records them (``status.json``)."""
        return status_times(self._recorded_status())

    def _recorded_status(self) -> dict:
        """The folder's ``status.json`` (``{}`` if missing or damaged)."""
        try:
            return parse_json_object(self.connector.read_optional(self.paths.status))
        except OSError:
            return {}

    def mark_done(self) -> None:
        """Write the ``.done`` marker of a job adopted without running (its output exists)."""
        c = self.connector
        c.mkdir(self.path, parents=True, exist_ok=True)
        c.write_atomic(self.paths.done, b"")

    def recorded_retry_count(self) -> int:
        """The failed runs its folder records (``status.json``, ours or the reference's)."""
        return status_retry_count(self._recorded_status())

    def write_status_if_folder(self) -> None:
        if self.has_folder():
            self.write_status()

    def write_status(self) -> None:
        c = self.connector
        c.mkdir(self.paths.meta, parents=True, exist_ok=True)
        c.write_atomic(self.paths.status, json.dumps(self.status_dict()))

    def mark_failed(self, code: int | None, reason: str) -> None:
        """Write the ``.failed`` marker (for a job that cannot write it itself)."""
        c = self.connector
        c.write_atomic(self.paths.failed, failed_content(code, reason))
        c.unlink(self.paths.pid, missing_ok=True)  # the process is gone: it would mislead

    # --- waiting ------------------------------------------------------------

    def wait(self, timeout: float | None = None, *, check: bool = False) -> JobState:
        """Block until the job ends; its final state (see ``submit.wait``)."""
        from .submit import wait

        return wait(self, timeout=timeout, check=check)

    def __await__(self):
        from .submit import wait_async

        return wait_async(self).__await__()

    def log_tail(self, lines: int = 20, stream: str = "err") -> str:
        """The last ``lines`` of the job's log (blocking: from a coroutine, ``await job.io(job.log_tail)``)."""
        path = self.paths.stderr if stream == "err" else self.paths.stdout
        try:
            data = self.connector.read_tail(path, 64 * 1024).decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])


def _check_same_host(job: Job, connector) -> None:
    """A job runs where its folder is: the launcher's host is the workspace's."""
    launcher_connector = getattr(job.launcher, "connector", None)
    if launcher_connector is None or launcher_connector is connector:
        return
    if connector.is_local and getattr(launcher_connector, "is_local", False):
        return
    if getattr(launcher_connector, "spec", None) != getattr(connector, "spec", None):
        from ..errors import ConnectorError

        msg = (f"job {job.locator}: its workspace is on {connector} but its launcher runs on "
               f"{launcher_connector}. Fix: give the launcher the workspace's connector "
               f"(e.g. DirectLauncher(connector=workspace.connector))")
        raise ConnectorError(msg)
