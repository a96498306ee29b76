"""``SlurmLauncher``: each job is a SLURM batch job running ``python -m xpm_nb.run``.

Files it writes in the job folder (besides the job's own):

- ``.experimaestro/slurm.sh``: the batch script (environment, then the job process);
- ``.experimaestro/slurm.json``: ``{"jobid", "submitted", "args", ...}``, written
  right after ``sbatch``. A new kernel finds it and follows the SLURM job
  instead of submitting it again.

SLURM's own output goes to the job's ``<name>.out`` / ``<name>.err`` (appended).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import time
from pathlib import Path

from ...errors import XPMError
from .. import Launcher, ProcessHandle, check_env_name
from .commands import CommandRunner, check_jobid
from .options import SlurmOptions
from .poller import SlurmJobHandle, SlurmPoller

__all__ = ["SlurmLauncher", "SlurmScriptBuilder", "SlurmProcessBuilder", "RECORD", "SCRIPT"]

RECORD = "slurm.json"  # in the job's .experimaestro folder
SCRIPT = "slurm.sh"
UNREACHABLE = "Unable to contact slurm controller"  # sbatch gave up after its own retries


class SlurmLauncher(Launcher):
    """Slurm workload manager launcher (https://slurm.schedmd.com/documentation.html).

    :param connector: where ``sbatch`` and friends run (default: this machine)
    :param options: the resources asked for each job (:class:`SlurmOptions`)
    :param interval: seconds between two ``squeue`` calls (one for all jobs)
    :param main: the launcher whose options this one refines (kept for the reference API)
    :param launcherenv: environment added when running the SLURM commands
        (e.g. ``{"SLURM_CONF": "/etc/slurm/other.conf"}``); jobs inherit it
    :param binpath: the folder of ``sbatch``, ``squeue``, ``sacct``, ``scancel``
    :param python: the Python interpreter of the jobs (default: this one's;
        the cluster's nodes must see it, e.g. on a shared file system)
    """

    def __init__(self, *, connector=None, options: SlurmOptions | None = None,
                 interval: float = 60, main=None, launcherenv: dict[str, str] | None = None,
                 binpath: str | os.PathLike = "/usr/bin", python: str | None = None,
                 priority: float = 0):
        super().__init__(connector, priority=priority)
        if options is not None and not isinstance(options, SlurmOptions):
            msg = (f"SlurmLauncher(options=...): expected a SlurmOptions, got {options!r}; "
                   "use SlurmOptions(partition=..., time=...)")
            raise XPMError(msg)
        if not isinstance(interval, (int, float)) or interval <= 0:
            msg = f"SlurmLauncher(interval=...): expected seconds > 0, got {interval!r}"
            raise XPMError(msg)
        if not isinstance(binpath, (str, os.PathLike)):
            msg = (f"SlurmLauncher(binpath=...): expected a folder (str or Path), got "
                   f"{binpath!r}")
            raise XPMError(msg)
        binpath = os.fspath(binpath)  # a str from here on (str or Path accepted)
        self.options = options or SlurmOptions()
        self.interval = float(interval)
        self.main = main
        self.launcherenv = dict(launcherenv or {})
        self.binpath = binpath
        self.python = python
        self.runner = CommandRunner(self.connector, binpath, self.launcherenv)

    def __repr__(self) -> str:
        return f"SlurmLauncher({' '.join(self.options.args())})"

    # --- reference API --------------------------------------------------------

    def config(self, **kwargs) -> SlurmLauncher:
        """A new launcher with some options changed, e.g. ``config(gpus=2, time="4:00:00")``."""
        launcher = SlurmLauncher(connector=self.connector, options=self.options.merge(**kwargs),
                                 interval=self.interval, main=self.main or self,
                                 launcherenv=self.launcherenv, binpath=self.binpath,
                                 python=self.python, priority=self.priority)
        launcher.environ = dict(self.environ)
        return launcher

    @property
    def key(self) -> dict:
        """What identifies the SLURM cluster reached (jobs with the same key share a poller)."""
        return {"connector": id(self.connector), "binpath": self.binpath,
                "launcherenv": dict(sorted(self.launcherenv.items()))}

    def launcher_info_code(self) -> str:
        """Python code run in the job: it finds its time limit through SLURM itself."""
        return ("import os\nos.environ.setdefault('XPM_NB_LAUNCHER', 'slurm')\n"
                f"os.environ.setdefault('XPM_NB_SLURM_BIN', {self.binpath!r})\n")

    def scriptbuilder(self) -> SlurmScriptBuilder:
        return SlurmScriptBuilder(self)

    def processbuilder(self) -> SlurmProcessBuilder:
        return SlurmProcessBuilder(self)

    # --- launching and following -------------------------------------------------

    def poller(self) -> SlurmPoller:
        """The poller shared by the jobs of this cluster on the running event loop."""
        key = (self.key["connector"], self.binpath, tuple(self.key["launcherenv"].items()),
               self.interval)
        return SlurmPoller.get(self.runner, self.interval, key)

    def launch(self, job, env: dict[str, str]) -> ProcessHandle:
        """Submit the job with ``sbatch`` (blocking)."""
        argv = self.processbuilder().sbatch_args(job, self.scriptbuilder().write(job, env))
        r = self.runner.run_sync("sbatch", *argv)
        return self._submitted(job, argv, r)

    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        """Submit the job with ``sbatch`` without blocking the event loop.

        The script is written, ``sbatch`` run and the job record written on
        the connector's worker threads (round trips on a remote host).
        """
        connector = self.connector
        argv = await connector.call(
            lambda: self.processbuilder().sbatch_args(job, self.scriptbuilder().write(job, env)))
        submission = asyncio.ensure_future(self.runner.run("sbatch", *argv, cwd=str(job.path)))
        try:
            r = await asyncio.shield(submission)
        except asyncio.CancelledError:
            # Cancelled while sbatch runs: do not leave an unfollowed job in the queue.
            r = await submission
            if r.returncode == 0:
                handle = await connector.call(self._submitted, job, argv, r)
                await connector.call(handle.kill)
            raise
        handle = await connector.call(self._submitted, job, argv, r)
        handle.poller.kick()
        return handle

    def _submitted(self, job, argv: list[str], r) -> SlurmJobHandle:
        if r.returncode != 0 and UNREACHABLE in r.stderr:
            # Not the job's fault: an options fix would be the wrong advice.
            msg = (f"sbatch could not reach the SLURM controller for job {job.locator} "
                   f"(exit {r.returncode}): {r.stderr.strip()}. The job was not submitted; "
                   "check that slurmctld runs (`scontrol ping`), then submit it again")
            raise XPMError(msg)
        if r.returncode != 0:
            msg = (f"sbatch refused job {job.locator} (exit {r.returncode}): "
                   f"{r.stderr.strip() or r.stdout.strip()}. Command: "
                   f"{shlex.join([self.binpath + '/sbatch', *argv])}. Fix the launcher's "
                   "SlurmOptions (partition, account, qos, time...)")
            raise XPMError(msg)
        lines = r.stdout.strip().splitlines()
        jobid = check_jobid(lines[-1].split(";")[0].strip() if lines else "",
                            f"the output of sbatch for job {job.locator}")
        record = {"jobid": jobid, "submitted": time.time(), "host": self.connector.hostname,
                  "binpath": self.binpath, "args": argv}
        self.connector.write_atomic(record_path(job), json.dumps(record))
        return SlurmJobHandle(self, jobid, job.paths)

    async def attach(self, job) -> ProcessHandle | None:
        """Follow the SLURM job recorded in the job folder (e.g. before a kernel restart)."""
        record = await self.connector.call(read_record, job, self.connector)
        if record is None:
            return None
        return SlurmJobHandle(self, record["jobid"], job.paths)


def record_path(job) -> Path:
    return job.paths.meta / RECORD


def read_record(job, connector) -> dict | None:
    """The SLURM job record of a job folder, or None.

    Its job id is checked (an ``XPMError`` naming the file if it is not one): it
    is passed to scancel, squeue and sacct.
    """
    path = record_path(job)
    try:
        record = json.loads(connector.read_text(path))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not record.get("jobid"):
        return None
    return {**record, "jobid": check_jobid(record["jobid"], path)}


class SlurmScriptBuilder:
    """Writes the batch script of a job: its environment, then the job process."""

    def __init__(self, launcher: SlurmLauncher):
        self.launcher = launcher

    def script(self, job, env: dict[str, str]) -> str:
        launcher = self.launcher
        python = launcher.python or getattr(launcher.connector, "python", None) or sys.executable
        lines = ["#!/bin/bash", f"# xpm_nb job {job.locator}", ""]
        env = {**env, "XPM_NB_LAUNCHER": "slurm", "XPM_NB_SLURM_BIN": launcher.binpath}
        for key, value in env.items():
            # The name goes into the script unquoted: checked (a workspace's env,
            # a launcher's, a hook's may all have set it).
            lines.append(f"export {check_env_name(key)}={shlex.quote(str(value))}")
        limit = launcher.options.time_seconds()
        if limit:
            # The job's end if squeue cannot be asked (remaining_time() prefers squeue).
            lines.append(f"export XPM_NB_DEADLINE=$(( $(date +%s) + {limit} ))")
        lines += [f"cd {shlex.quote(str(job.path))} || exit 1",
                  f"exec {shlex.quote(python)} -m xpm_nb.run {shlex.quote(str(job.path))}", ""]
        return "\n".join(lines)

    def write(self, job, env: dict[str, str]) -> Path:
        connector = self.launcher.connector
        path = job.paths.meta / SCRIPT
        connector.mkdir(path.parent)
        connector.write_atomic(path, self.script(job, env))
        connector.setExecutable(path, True)
        return path


class SlurmProcessBuilder:
    """The ``sbatch`` command line of a job."""

    def __init__(self, launcher: SlurmLauncher):
        self.launcher = launcher

    def sbatch_args(self, job, script: Path) -> list[str]:
        return ["--parsable", f"--job-name=xpm-{job.name}-{job.identifier[:8]}",
                f"--output={job.paths.stdout}", f"--error={job.paths.stderr}",
                "--open-mode=append", f"--chdir={job.path}",
                *self.launcher.options.args(), str(script)]
