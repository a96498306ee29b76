"""The direct launcher: each job is a local ``python -m xpm_nb.run`` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from . import Launcher, ProcessHandle

__all__ = ["DirectLauncher"]


class _Popen(ProcessHandle):
    def __init__(self, popen: subprocess.Popen):
        self.popen = popen
        self.pid = popen.pid

    def poll(self):
        return self.popen.poll()

    def kill(self):
        # The whole process group: the task's own children end too.
        os.killpg(os.getpgid(self.popen.pid), signal.SIGTERM)


class ScriptBuilder:
    """The command line of a job: the job process runner on its folder."""

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def command(self, job) -> list[str]:
        return [self.python, "-m", "xpm_nb.run", str(job.path)]


class DirectLauncher(Launcher):
    """Runs tasks directly as local processes."""

    def __init__(self, connector=None, *, priority: float = 0, python: str | None = None):
        super().__init__(connector, priority=priority)
        self.python = python

    def __repr__(self) -> str:
        return "DirectLauncher()"

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
        if self.connector.is_local:
            # fork/exec takes tens of ms on a loaded machine: not on the loop.
            return await asyncio.to_thread(self.launch, job, env)
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
        return _Popen(popen)
