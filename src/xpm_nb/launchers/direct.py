"""The direct launcher: each job is a ``python -m xpm_nb.run`` process of the connector's host.

Its machinery (:func:`start_process`, :func:`job_slots`, :func:`check_max_jobs`)
is shared with launchers that only change the command line
(:class:`~xpm_nb.launchers.command.CommandLauncher`).
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..connectors.local import LocalProcess
from ..errors import InvalidArgumentError
from ..process import ProcessHandle
from .base import Description, Launcher, connector_label
from .slots import JobSlots, default_max_jobs, host_slots

__all__ = ["DirectLauncher", "ScriptBuilder", "check_max_jobs", "describe_processes", "job_slots",
           "running_slots", "start_process"]


class ScriptBuilder:
    """The command line of a job: the job process runner on its folder."""

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def command(self, job) -> list[str]:
        return [self.python, "-m", "xpm_nb.run", str(job.path)]


def check_max_jobs(owner: str, max_jobs) -> int | None:
    """``max_jobs`` if None or a positive number of jobs, else an ``InvalidArgumentError``."""
    if max_jobs is not None and (not isinstance(max_jobs, int) or max_jobs < 1):
        msg = (f"{owner}: max_jobs={max_jobs!r} is not a positive number of jobs. "
               "Fix: give max_jobs=4 (for example), or leave it out for the default")
        raise InvalidArgumentError(msg)
    return max_jobs


def job_slots(max_jobs: int | None, connector) -> JobSlots | None:
    """The host's pool of ``max_jobs`` slots; by default the machine's cores on this
    host (``$XPM_NB_MAX_JOBS``), no limit on a remote one (None: no limit)."""
    if max_jobs is not None:
        return host_slots(max_jobs, connector)
    if connector.is_local:
        size = default_max_jobs()
        return None if size is None else host_slots(size, connector)
    return None


def start_process(connector, argv: list[str], job, env: dict[str, str]) -> ProcessHandle:
    """Start ``argv`` in the job's folder on the connector's host (blocking: call it
    on the connector's worker threads), its output appended to the job's
    ``<name>.out``/``<name>.err``, ``env`` added to the host's environment.

    The process runs in a session of its own: it outlives a kernel restart, and
    killing its process group (cancel) ends whatever it started too.
    """
    if not connector.is_local:
        # Detached on the host; the exit code is kept in the job's folder.
        return connector.start(argv, cwd=job.path, env=env, stdout=job.paths.stdout,
                               stderr=job.paths.stderr, exit_file=job.paths.exit_code)
    full_env = dict(os.environ)
    full_env.update(env)
    with open(job.paths.stdout, "ab") as out, open(job.paths.stderr, "ab") as err:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 cwd=job.path, env=full_env, start_new_session=True)
    return LocalProcess(popen)


def running_slots(slots: JobSlots | None) -> str:
    """Jobs holding a slot of the pool, for a card ("" when unknown or unlimited)."""
    if slots is None or slots.size is None:
        return ""
    try:
        return str(slots.running())  # counted on the pool's worker, from any thread
    except RuntimeError:
        return ""  # no loop runs here: not known


class DirectLauncher(Launcher):
    """Runs tasks directly as processes of the connector's host.

    A job starts only while fewer than ``max_jobs`` jobs run on the host, all
    drivers counted (other notebooks, a dead kernel's jobs still running: see
    ``launchers/slots.py``); the others wait, READY, in submission order. By
    default ``max_jobs`` is the machine's cores (``$XPM_NB_MAX_JOBS``
    overrides it, 0 meaning no limit); on a remote host there is no limit
    unless ``max_jobs`` is given, and then the count is that host's.
    """

    yaml_keys = frozenset({"python"})

    def __init__(self, connector=None, *, priority: float = 0, python: str | None = None,
                 max_jobs: int | None = None):
        super().__init__(connector, priority=priority)
        self.python = python
        self.max_jobs = check_max_jobs("DirectLauncher", max_jobs)

    def __repr__(self) -> str:
        return f"DirectLauncher(max_jobs={self.max_jobs})" if self.max_jobs else "DirectLauncher()"

    @classmethod
    def from_yaml(cls, settings: dict) -> DirectLauncher:
        return cls(python=settings.get("python"))

    def slots(self) -> JobSlots | None:
        """The host's pool, of this launcher's size (None: no limit)."""
        return job_slots(self.max_jobs, self.connector)

    @staticmethod
    def get_cli():
        return None

    def scriptbuilder(self):
        # On a remote host, the connector's Python (``sys.executable`` is local).
        python = self.python or (None if self.connector.is_local else self.connector.python)
        return ScriptBuilder(python)

    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        # On the connector's worker threads, local or remote: fork/exec takes tens
        # of ms on a loaded machine, a remote start round trips (or waits for a
        # cut link): never on the loop.
        return await self.connector.call(self.launch, job, env)

    def launch(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the job's process (blocking)."""
        return start_process(self.connector, self.scriptbuilder().command(job), job, env)

    def describe(self) -> Description:
        description = Description(type(self).__name__)
        describe_processes(self, description)
        return description


def describe_processes(launcher, description: Description) -> None:
    """The card's facts of a launcher of host processes (its ``connector``, ``python``,
    ``max_jobs``, ``slots()``, ``priority``, ``environ``)."""
    connector = launcher.connector
    description.add("host", connector_label(connector))
    python = launcher.python or (sys.executable if getattr(connector, "is_local", False)
                                 else getattr(connector, "python", ""))
    description.add("python", python)
    slots = launcher.slots()
    if launcher.max_jobs is not None:
        description.add("max jobs", launcher.max_jobs)
    elif slots is not None:
        description.add("max jobs", f"{slots.size or 'no limit'} (shared by this host's launchers)")
    else:
        description.add("max jobs", "no limit")
    description.add("running", running_slots(slots))
    if launcher.priority:
        description.add("priority", launcher.priority)
    description.add("environment", ", ".join(sorted(launcher.environ)))
