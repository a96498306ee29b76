"""Every file and folder of a workspace, an experiment, a run and a job, named once.

The layout is shared with the reference system (``shared/specs/workspace.md``);
``docs/architecture.md`` draws it. Only names here: no file is read or written.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CURRENT", "WORKSPACE_MARKER", "DONE_SUFFIX", "FAILED_SUFFIX", "PID_SUFFIX", "EVENTS_FILE", "TASK_OUTPUTS_FILE", "PARAMS_FILE",
           "RUN_LOCK_NAME", "WorkspacePaths", "ExperimentPaths", "RunPaths", "JobPaths",
           "JobFiles", "job_name", "safe_name", "done_file"]

WORKSPACE_MARKER = ".__experimaestro__"  # empty file: "this folder is a workspace"
PARAMS_FILE = "params.json"
META = ".experimaestro"  # a job's own folder of records
EVENTS_FILE = f"{META}/events/event-0.jsonl"  # relative to the job folder
TASK_OUTPUTS_FILE = f"{META}/task-outputs.jsonl"
CURRENT = "current"  # WS/experiments/<name>/current -> <run id>
RUN_LOCK_NAME = "lock"  # held by the driver while the run is open (scheduler/runlock.py)
# <name><suffix> in a job folder: the result markers and the running process's pid file
DONE_SUFFIX, FAILED_SUFFIX, PID_SUFFIX = ".done", ".failed", ".pid"


def job_name(task_id: str) -> str:
    """``<name>`` of a job's marker files: the last dotted part of its task id."""
    return task_id.rsplit(".", 1)[-1]


def done_file(name: str) -> str:
    """The ``.done`` marker's file name (for readers that build paths as text, in bulk)."""
    return name + DONE_SUFFIX


def safe_name(name) -> bool:
    """Whether a task or job id (of ``jobs.jsonl``) is one folder name of the workspace
    (no ``/``, not ``.`` or ``..``, no NUL): other ids are never followed."""
    return (type(name) is str and name not in ("", ".", "..") and "/" not in name
            and "\x00" not in name and "\\" not in name)


class WorkspacePaths:
    """The folders of a workspace ``WS``."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = Path(path)

    @property
    def marker(self) -> Path:
        return self.path / WORKSPACE_MARKER

    def is_workspace(self) -> bool:
        """A workspace has its marker, or (older ones) a ``jobs`` folder."""
        return self.marker.exists() or self.jobs.is_dir()

    @property
    def jobs(self) -> Path:
        """``WS/jobs``: one folder per job, ``<type id>/<hex id>``."""
        return self.path / "jobs"

    @property
    def experiments(self) -> Path:
        return self.path / "experiments"

    @property
    def partials(self) -> Path:
        """Shared folders of ``PathGenerator(partial=...)``."""
        return self.path / "partials"

    @property
    def config_cache(self) -> Path:
        """``@cache`` files: ``WS/config/<hex id>/<name>``."""
        return self.path / "config"

    @property
    def scheduler(self) -> Path:
        """The scheduler's own metadata (the reference's ``.scheduler``)."""
        return self.path / ".scheduler"

    @property
    def slurm_arrays(self) -> Path:
        """Ours: one folder per SLURM array (its script, links to the jobs' logs)."""
        return self.path / ".xpm_nb" / "slurm-arrays"

    def job(self, type_id: str, job_id: str) -> Path:
        return self.jobs / type_id / job_id

    def job_paths(self, type_id: str, job_id: str) -> JobPaths:
        return JobPaths(self.job(type_id, job_id), job_name(type_id))

    def experiment(self, name: str) -> ExperimentPaths:
        return ExperimentPaths(self.experiments / name)

    def partial(self, type_id: str, name: str, partial_id: str) -> Path:
        return self.partials / type_id / name / partial_id


class ExperimentPaths:
    """``WS/experiments/<name>``: its runs and the link to the current one."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = Path(path)

    @property
    def lock(self) -> Path:
        """The reference's lock file (held by its driver while a run is open)."""
        return self.path / "lock"

    @property
    def current(self) -> Path:
        """A link to the current run's folder (its name)."""
        return self.path / CURRENT

    def run(self, run_id: str) -> RunPaths:
        return RunPaths(self.path / run_id)


class RunPaths:
    """``WS/experiments/<name>/<run id>``: one run of an experiment."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = Path(path)

    @property
    def workspace(self) -> Path:
        return self.path.parent.parent.parent

    @property
    def experiment(self) -> str:
        return self.path.parent.name

    @property
    def jobs_jsonl(self) -> Path:
        """One line per job (``records.jobs_line``): ids, tags, submission time."""
        return self.path / "jobs.jsonl"

    @property
    def status(self) -> Path:
        """The run's status and its jobs' states."""
        return self.path / "status.json"

    @property
    def objects(self) -> Path:
        """The jobs' configurations (the reference's ``load_xp_info`` reads it)."""
        return self.path / "objects.jsonl"

    @property
    def environment(self) -> Path:
        return self.path / "environment.json"

    @property
    def lock(self) -> Path:
        return self.path / RUN_LOCK_NAME

    @property
    def server(self) -> Path:
        """Ours: the monitoring URL and token while it serves."""
        return self.path / "server.json"

    @property
    def configuration(self) -> Path:
        """Ours: the resolved YAML of a CLI run."""
        return self.path / "configuration.yaml"

    def service_logs(self, service_id: str) -> Path:
        return self.path / "services" / service_id

    def job_link(self, type_id: str, job_id: str) -> Path:
        """The link to a job's folder (``jobs/<type id>/<hex id>``)."""
        return self.path / "jobs" / type_id / job_id


class JobPaths:
    """Every file of a job folder, named in one place."""

    __slots__ = ("path", "name")

    def __init__(self, path, name: str):
        self.path = Path(path)
        self.name = name

    @classmethod
    def of_task(cls, path, task_id: str) -> JobPaths:
        """The files of job folder ``path`` of task ``task_id``."""
        return cls(path, job_name(task_id))

    @property
    def workspace(self) -> Path:
        """The workspace of a job folder ``WS/jobs/<type id>/<hex id>``."""
        return self.path.parent.parent.parent

    def __repr__(self) -> str:
        return f"JobPaths({str(self.path)!r}, {self.name!r})"

    def _f(self, suffix: str) -> Path:
        return self.path / f"{self.name}{suffix}"

    @property
    def done(self) -> Path:
        return self.path / done_file(self.name)

    @property
    def params(self) -> Path:
        return self.path / PARAMS_FILE

    @property
    def failed(self) -> Path:
        return self._f(FAILED_SUFFIX)

    @property
    def pid(self) -> Path:
        return self._f(PID_SUFFIX)

    @property
    def lock(self) -> Path:
        return self._f(".lock")

    @property
    def stdout(self) -> Path:
        return self._f(".out")

    @property
    def stderr(self) -> Path:
        return self._f(".err")

    def old_log(self, stamp: str, stream: Path) -> Path:
        """Where a log of an earlier run is kept: ``<name>.<time>.out|.err``."""
        return self._f(f".{stamp}{stream.suffix}")

    @property
    def meta(self) -> Path:
        return self.path / META

    @property
    def status(self) -> Path:
        return self.meta / "status.json"

    @property
    def events(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def task_outputs(self) -> Path:
        """Outputs registered by ``register_task_output`` (appended by the job)."""
        return self.path / TASK_OUTPUTS_FILE

    @property
    def launch_lock(self) -> Path:
        return self.meta / "launch.lock"

    @property
    def slurm_script(self) -> Path:
        return self.meta / "slurm.sh"

    @property
    def slurm_record(self) -> Path:
        """Ours: ``{"jobid", "submitted", "host", "args", ...}`` of its SLURM job."""
        return self.meta / "slurm.json"

    @property
    def exit_code(self) -> Path:
        """Ours: written by the wrapper of a remote direct launch (and ``.pid`` next to it)."""
        return self.meta / "exit-code"


class JobFiles:
    """The reference's path attributes of a job (``job.stdout``...), over its ``paths``.

    Mixed into every job-like class (the scheduler's ``Job``, the browser's
    ``PastJob``) so that they name their files alike, through :class:`JobPaths`.
    """

    __slots__ = ()
    paths: JobPaths

    @property
    def jobpath(self) -> Path:
        return self.paths.path

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
