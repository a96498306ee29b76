"""The direct launcher: each job is a local ``python -m xpm_nb.run`` process."""

from __future__ import annotations

import os
import subprocess
import sys

from ..connectors.local import LocalProcess
from ..errors import InvalidArgumentError
from . import Launcher, ProcessHandle
from .slots import JobSlots, default_max_jobs, host_slots

__all__ = ["DirectLauncher"]


class ScriptBuilder:
    """The command line of a job: the job process runner on its folder."""

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def command(self, job) -> list[str]:
        return [self.python, "-m", "xpm_nb.run", str(job.path)]


class DirectLauncher(Launcher):
    """Runs tasks directly as processes of the connector's host.

    A job starts only while fewer than ``max_jobs`` jobs run on the host, all
    drivers counted (other notebooks, a dead kernel's jobs still running: see
    ``launchers/slots.py``); the others wait, READY, in submission order. By
    default ``max_jobs`` is the machine's cores (``$XPM_NB_MAX_JOBS``
    overrides it, 0 meaning no limit); on a remote host there is no limit
    unless ``max_jobs`` is given, and then the count is that host's.
    """

    def __init__(self, connector=None, *, priority: float = 0, python: str | None = None,
                 max_jobs: int | None = None):
        super().__init__(connector, priority=priority)
        self.python = python
        if max_jobs is not None and (not isinstance(max_jobs, int) or max_jobs < 1):
            msg = (f"DirectLauncher: max_jobs={max_jobs!r} is not a positive number of jobs. "
                   "Fix: give max_jobs=4 (for example), or leave it out for the default")
            raise InvalidArgumentError(msg)
        self.max_jobs = max_jobs

    def __repr__(self) -> str:
        return f"DirectLauncher(max_jobs={self.max_jobs})" if self.max_jobs else "DirectLauncher()"

    def slots(self) -> JobSlots | None:
        """The host's pool, of this launcher's size (None: no limit)."""
        if self.max_jobs is not None:
            return host_slots(self.max_jobs, self.connector)
        if self.connector.is_local:
            size = default_max_jobs()
            return None if size is None else host_slots(size, self.connector)
        return None

    @staticmethod
    def get_cli():
        return None

    def launcher_info_code(self) -> str:
        return ""

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
        if not self.connector.is_local:
            # Detached on the host; the exit code is kept in the job's folder.
            return self.connector.start(
                self.scriptbuilder().command(job), cwd=job.path, env=env,
                stdout=job.paths.stdout, stderr=job.paths.stderr,
                exit_file=job.paths.meta / "exit-code")
        full_env = dict(os.environ)
        full_env.update(env)
        with open(job.paths.stdout, "ab") as out, open(job.paths.stderr, "ab") as err:
            popen = subprocess.Popen(
                self.scriptbuilder().command(job),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=job.path,
                env=full_env,
                # Its own session: the job outlives a kernel restart.
                start_new_session=True,
            )
        return LocalProcess(popen)
