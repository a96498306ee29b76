"""Jobs: a task's folder, its files, and its state read from them.

The marker files are the truth: ``<name>.done`` exists for a success,
``<name>.failed`` holds ``{"code", "reason"}``, ``<name>.pid`` names the
running process. Memory only caches what the files say.
"""

from __future__ import annotations

import enum
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..core.params import atomic_write

__all__ = ["JobState", "JobPaths", "Job", "read_disk_state"]


class JobState(enum.Enum):
    UNSCHEDULED = "unscheduled"
    WAITING = "waiting"  # dependencies not done yet
    READY = "ready"  # may start (waiting for a token or a slot)
    SCHEDULED = "scheduled"  # submitted to a cluster, pending there
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.ERROR)


class JobPaths:
    """Every file of a job folder, named in one place."""

    def __init__(self, path: Path, name: str):
        self.path = Path(path)
        self.name = name

    def _f(self, suffix: str) -> Path:
        return self.path / f"{self.name}{suffix}"

    @property
    def params(self) -> Path:
        return self.path / "params.json"

    @property
    def done(self) -> Path:
        return self._f(".done")

    @property
    def failed(self) -> Path:
        return self._f(".failed")

    @property
    def pid(self) -> Path:
        return self._f(".pid")

    @property
    def lock(self) -> Path:
        return self._f(".lock")

    @property
    def stdout(self) -> Path:
        return self._f(".out")

    @property
    def stderr(self) -> Path:
        return self._f(".err")

    @property
    def meta(self) -> Path:
        return self.path / ".experimaestro"

    @property
    def status(self) -> Path:
        return self.meta / "status.json"

    @property
    def events(self) -> Path:
        return self.meta / "events" / "event-0.jsonl"

    @property
    def launch_lock(self) -> Path:
        return self.meta / "launch.lock"


def pid_alive(pid: int) -> bool:
    if not 0 < pid < 2**31:  # 0 and -1 would name our own group / every process
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def read_disk_state(paths: JobPaths, connector=None) -> tuple[JobState | None, dict]:
    """The state the job folder says: DONE, ERROR, RUNNING (live pid) or None.

    ``connector``: the host of a remote job folder (None: this machine).
    """
    if connector is not None and not connector.is_local:
        return _remote_disk_state(paths, connector)
    if paths.done.exists():
        return JobState.DONE, {}
    if paths.failed.exists():
        try:
            info = json.loads(paths.failed.read_bytes() or b"{}")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            info = {"reason": "failed (unreadable .failed file)"}
        if not isinstance(info, dict):
            info = {"code": info}
        return JobState.ERROR, info
    if paths.pid.exists():
        try:
            info = json.loads(paths.pid.read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, {}
        if info.get("host", socket.gethostname()) != socket.gethostname():
            return JobState.RUNNING, info  # cannot check another host's pid
        if pid_alive(pid):
            return JobState.RUNNING, info
        return None, {"stale_pid": pid}
    return None, {}


def _remote_disk_state(paths: JobPaths, connector) -> tuple[JobState | None, dict]:
    """:func:`read_disk_state` through a remote host's connector (2-4 round trips)."""
    if connector.exists(paths.done):
        return JobState.DONE, {}
    data = connector.read_optional(paths.failed)
    if data is not None:
        try:
            info = json.loads(data or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            info = {"reason": "failed (unreadable .failed file)"}
        if not isinstance(info, dict):
            info = {"code": info}
        return JobState.ERROR, info
    data = connector.read_optional(paths.pid)
    if data is None:
        return None, {}
    try:
        info = json.loads(data)
        pid = int(info["pid"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None, {}
    if info.get("host", connector.hostname) != connector.hostname:
        return JobState.RUNNING, info  # cannot check another host's pid
    if connector.pid_alive(pid):
        return JobState.RUNNING, info
    return None, {"stale_pid": pid}


class _JobEnviron(dict):
    """A job's environment (a plain dict for readers) whose writes are kept by the job."""

    def __init__(self, own: dict):
        super().__init__()
        self._own = own

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self._own[key] = value

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


class Job:
    """A resource produced by running a task: its folder, state and process.

    The folder is on the host of the workspace's connector: every file
    access below goes through ``self.connector`` when it is remote (the
    local path is unchanged, with no extra system call).
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
        self.max_retries = 3 if max_retries is None else max_retries
        xpmtype = config.__xpmtype__
        self.type_id: str = xpmtype.identifier
        self.identifier: str = config.__identifier__().hex()
        self.name: str = xpmtype.identifier.rsplit(".", 1)[-1]
        self.path: Path = workspace.job_path(self.type_id, self.identifier)
        self.paths = JobPaths(self.path, self.name)
        self.dependencies: list[Job] = []
        self.tags: dict[str, Any] = dict(config.tags())
        self.state = JobState.UNSCHEDULED
        self.failure_reason: str | None = None
        self.exit_code: int | None = None
        self.last_exit = None  # the launcher's ProcessExit of the last run
        self.submitted_time = time.time()
        self.started_time: float | None = None
        self.ended_time: float | None = None
        self.retry_count = 0
        self.progress: list[dict] = []
        self.process = None
        self.environ_extra: dict[str, str] = {}
        self.listeners: list = []
        self._future = None  # asyncio future resolved when the job is finished
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
    def jobpath(self) -> Path:
        return self.path

    @property
    def donepath(self) -> Path:
        return self.paths.done

    @property
    def failedpath(self) -> Path:
        return self.paths.failed

    @property
    def pidpath(self) -> Path:
        return self.paths.pid

    @property
    def lockpath(self) -> Path:
        return self.paths.lock

    @property
    def stdout(self) -> Path:
        return self.paths.stdout

    @property
    def stderr(self) -> Path:
        return self.paths.stderr

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

        Called directly for a local folder; on the connector's threads for a
        remote one (where a dropped link makes it wait, never fail).
        """
        c = self.connector
        if c.is_local:
            return fn(*args)
        return await c.call(fn, *args)

    def disk_state(self) -> tuple[JobState | None, dict]:
        """:func:`read_disk_state` of this job's folder, on its host."""
        return read_disk_state(self.paths, self.connector)

    def has_folder(self) -> bool:
        c = self.connector
        return self.path.exists() if c.is_local else c.exists(self.path)

    def clear_failure(self) -> None:
        """Before a new run: remove the ``.failed`` marker and keep the old logs."""
        c = self.connector
        if c.is_local:
            if self.paths.failed.exists():
                self.paths.failed.unlink()
                self.rotate_logs()
        elif c.exists(self.paths.failed):
            c.unlink(self.paths.failed)
            self.rotate_logs()

    def rotate_logs(self) -> None:
        """Keep the logs of an earlier run as ``<name>.<time>.out`` / ``.err``."""
        stamp = time.strftime("%Y%m%d%H%M%S")
        c = self.connector
        if not c.is_local:
            for path in (self.paths.stdout, self.paths.stderr):
                if c.size(path):
                    c.rename(path, path.with_name(f"{self.name}.{stamp}{path.suffix}"))
            return
        for path in (self.paths.stdout, self.paths.stderr):
            if path.exists() and path.stat().st_size > 0:
                path.rename(path.with_name(f"{self.name}.{stamp}{path.suffix}"))

    def prepare(self, overwrite: bool = False) -> None:
        """Write the job folder's files before the job starts."""
        from ..core.params import write_params

        c = self.connector
        if not c.is_local:
            _check_same_host(self, c)
            c.mkdir(self.paths.meta, parents=True, exist_ok=True)
            if overwrite or not c.exists(self.paths.params):
                write_params(self.config, self.path, self.workspace.path, write=c.write_atomic)
            return
        if getattr(self.launcher, "connector", c) is not c:
            _check_same_host(self, c)
        self.path.mkdir(parents=True, exist_ok=True)
        self.paths.meta.mkdir(exist_ok=True)
        if overwrite or not self.paths.params.exists():
            write_params(self.config, self.path, self.workspace.path)

    def process_state_dict(self) -> dict | None:
        c = self.connector
        if not c.is_local:
            data = c.read_optional(self.paths.pid)
            try:
                return json.loads(data) if data is not None else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None
        if not self.paths.pid.exists():
            return None
        try:
            return json.loads(self.paths.pid.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def watch_output(self, watched) -> None:
        self.watched_outputs.append(watched)

    def register_watched_outputs(self) -> None:
        """Take the watchers set on the task's configuration (once each)."""
        for watched in self.config.__xpm__.watched_outputs:
            if watched not in self.watched_outputs:
                self.watched_outputs.append(watched)

    async def aio_run(self):
        """Prepare the folder and start the job's process; returns its handle."""
        self.prepare()
        self.process = self.launcher.launch(self, self.environ)
        return self.process

    async def aio_done_handler(self) -> None:
        """Deliver the outputs the job registered and progress not read yet."""
        from .follow import JobFollower

        JobFollower(self, lambda job: None).poll()

    # --- acting through the scheduler ------------------------------------

    def cancel(self) -> bool:
        """Cancel this job (kill it if it runs); False if it was already finished."""
        return self.scheduler.cancel(self) if self.scheduler is not None else False

    def kill(self) -> bool:
        return self.cancel()

    def resubmit(self) -> Job:
        """Run this failed or cancelled job again (its failed dependencies too)."""
        if self.scheduler is None:
            from ..errors import XPMError

            msg = f"job {self.locator} was never submitted: submit its task first"
            raise XPMError(msg)
        return self.scheduler.resubmit(self)

    def failure_message(self) -> str:
        """One line for errors: which job, why it failed, where its log is."""
        return f"job {self.locator} failed: {self.failure_reason}. Log: {self.stderr}"

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

    def write_status(self) -> None:
        c = self.connector
        if not c.is_local:
            c.mkdir(self.paths.meta, parents=True, exist_ok=True)
            c.write_atomic(self.paths.status, json.dumps(self.status_dict()))
            return
        self.paths.meta.mkdir(parents=True, exist_ok=True)
        atomic_write(self.paths.status, json.dumps(self.status_dict()))

    def mark_failed(self, code: int | None, reason: str) -> None:
        """Write the ``.failed`` marker (for a job that cannot write it itself)."""
        c = self.connector
        if not c.is_local:
            c.write_atomic(self.paths.failed, json.dumps({"code": code, "reason": reason}))
            c.unlink(self.paths.pid, missing_ok=True)
            return
        atomic_write(self.paths.failed, json.dumps({"code": code, "reason": reason}))
        try:  # the process is gone: its pid file would only mislead
            self.paths.pid.unlink()
        except FileNotFoundError:
            pass

    # --- waiting ------------------------------------------------------------

    def wait(self, timeout: float | None = None):
        from .submit import wait

        return wait(self, timeout=timeout)

    def __await__(self):
        from .submit import wait_async

        return wait_async(self).__await__()

    def log_tail(self, lines: int = 20, stream: str = "err") -> str:
        path = self.paths.stderr if stream == "err" else self.paths.stdout
        c = self.connector
        if not c.is_local:
            data = c.read_tail(path, 64 * 1024).decode("utf-8", "replace")
            return "\n".join(data.splitlines()[-lines:])
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                data = f.read().decode("utf-8", "replace")
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
