"""``SlurmLauncher``: each job is a SLURM batch job running ``python -m xpm_nb.run``.

Files it writes in the job folder (besides the job's own):

- ``.experimaestro/slurm.sh``: the batch script (environment, then the job process);
- ``.experimaestro/slurm.json``: ``{"jobid", "submitted", "args", ...}``, written
  right after ``sbatch``. A new kernel finds it and follows the SLURM job
  instead of submitting it again.

SLURM's own output goes to the job's ``<name>.out`` / ``<name>.err`` (appended).

Jobs submitted together with the same options go as one job array
(``arrays.py``); dependencies already queued on the cluster are handed to
SLURM (``depends.py``). ``SlurmLauncher(arrays=False, dependencies=False)``
submits each job alone, after its dependencies ended.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from ...errors import ConnectorError, InvalidArgumentError, SubmissionError
from ...process import ProcessHandle
from .. import check_env_name
from ..base import Description, Launcher, connector_label
from .arrays import ArrayBatcher, dependency_args
from .commands import CommandRunner, check_jobid
from .depends import failed_dependency, note_submitted, pop_after, take_over
from .options import SlurmOptions, format_time
from .poller import NotSubmitted, SlurmJobHandle, SlurmPoller
from .timelimit import job_deadline

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
    :param arrays: submit jobs launched together (a grid) with the same options as
        one job array (``sbatch --array``); False: one ``sbatch`` per job
    :param array_limit: at most this many tasks of an array run at once
        (``--array=...%N``); None: no limit
    :param dependencies: a job whose dependencies are already queued on this
        cluster is submitted at once, SLURM holding it (``--dependency=afterok``);
        False: submitted once they ended
    """

    yaml_keys = frozenset({"options", "launcherenv", "binpath", "interval", "python"})

    def __init__(self, *, connector=None, options: SlurmOptions | None = None,
                 interval: float = 60, main=None, launcherenv: dict[str, str] | None = None,
                 binpath: str | os.PathLike = "/usr/bin", python: str | None = None,
                 priority: float = 0, arrays: bool = True, array_limit: int | None = None,
                 dependencies: bool = True):
        super().__init__(connector, priority=priority)
        for name, flag in (("arrays", arrays), ("dependencies", dependencies)):
            if not isinstance(flag, bool):
                msg = f"SlurmLauncher({name}=...): expected True or False, got {flag!r}"
                raise InvalidArgumentError(msg)
        if array_limit is not None and (isinstance(array_limit, bool)
                                        or not isinstance(array_limit, int) or array_limit < 1):
            msg = (f"SlurmLauncher(array_limit=...): expected a number of tasks >= 1 "
                   f"(or None), got {array_limit!r}")
            raise InvalidArgumentError(msg)
        self.arrays = arrays
        self.array_limit = array_limit
        self.dependencies = dependencies
        if options is not None and not isinstance(options, SlurmOptions):
            msg = (f"SlurmLauncher(options=...): expected a SlurmOptions, got {options!r}; "
                   "use SlurmOptions(partition=..., time=...)")
            raise InvalidArgumentError(msg)
        if not isinstance(interval, (int, float)) or interval <= 0:
            msg = f"SlurmLauncher(interval=...): expected seconds > 0, got {interval!r}"
            raise InvalidArgumentError(msg)
        if not isinstance(binpath, (str, os.PathLike)):
            msg = (f"SlurmLauncher(binpath=...): expected a folder (str or Path), got "
                   f"{binpath!r}")
            raise InvalidArgumentError(msg)
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
                                 python=self.python, priority=self.priority,
                                 arrays=self.arrays, array_limit=self.array_limit,
                                 dependencies=self.dependencies)
        launcher.environ = dict(self.environ)
        return launcher

    @property
    def key(self) -> dict:
        """What identifies the SLURM cluster reached (jobs with the same key share a poller)."""
        return {"connector": id(self.connector), "binpath": self.binpath,
                "launcherenv": dict(sorted(self.launcherenv.items()))}

    @property
    def cluster(self) -> tuple:
        """Hashable: launchers with the same cluster share arrays and dependencies."""
        key = self.key
        return (key["connector"], self.binpath, tuple(key["launcherenv"].items()))

    def launcher_info_code(self) -> str:
        """Python code run in the job: it finds its time limit through SLURM itself."""
        return ("import os\nos.environ.setdefault('XPM_NB_LAUNCHER', 'slurm')\n"
                f"os.environ.setdefault('XPM_NB_SLURM_BIN', {self.binpath!r})\n")

    def scriptbuilder(self) -> SlurmScriptBuilder:
        return SlurmScriptBuilder(self)

    # --- the other modules' hooks --------------------------------------------------

    @classmethod
    def job_deadline(cls) -> float | None:
        """In a SLURM job: its end time, asked of ``squeue`` (``timelimit.py``)."""
        return job_deadline()

    @classmethod
    def from_yaml(cls, settings: dict) -> SlurmLauncher:
        """``type: slurm``: options, launcherenv, binpath, interval, python."""
        return cls(options=SlurmOptions().merge(**(settings.get("options") or {})),
                   launcherenv={k: str(v) for k, v in
                                (settings.get("launcherenv") or {}).items()},
                   binpath=str(settings.get("binpath", "/usr/bin")),
                   interval=settings.get("interval", 60), python=settings.get("python"))

    def check_host_options(self, options: dict) -> None:
        """A host's options are SlurmOptions fields (unknown ones fail when the file is read)."""
        self.options.merge(**options)

    def for_host(self, match, options: dict) -> SlurmLauncher:
        """This launcher with the host's options, and the resources requested asked of
        SLURM: ``time``, ``gpus_per_node``, ``cpus_per_task``, ``mem``."""
        options = dict(options)
        requirement = match.requirement
        if requirement.duration:
            options.setdefault("time", format_time(requirement.duration))
        if match.gpus:
            options.setdefault("gpus_per_node", match.gpus)
        if match.cores:
            options.setdefault("cpus_per_task", str(match.cores))
        if requirement.cpu.memory:
            options.setdefault("mem", f"{math.ceil(requirement.cpu.memory / 1024**2)}M")
        return self.config(**options) if options else self

    def describe(self) -> Description:
        description = Description("SlurmLauncher")
        description.add("host", connector_label(self.connector))
        description.add("binpath", self.binpath)
        description.add("poll interval", f"{self.interval:g} s")
        description.add("python", self.python)
        description.add("launcher env",
                        ", ".join(f"{k}={v}" for k, v in self.launcherenv.items()))
        description.add("environment", ", ".join(sorted(self.environ)))
        self.options.describe_into(description)
        return description

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

    async def queue_after(self, job) -> list:
        """Scheduler hook: the dependencies of ``job`` it must still wait for itself.

        The others are SLURM jobs of this cluster already submitted: ``job`` is
        submitted at once with ``--dependency`` on them (see ``depends.py``).
        """
        if not self.dependencies:
            return list(job.dependencies)
        return await take_over(self, job)

    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        """Submit the job without blocking the event loop: with the jobs launched with
        it as an array (``arrays=True``), else alone.

        Scripts, ``sbatch`` and job records go through the connector's worker
        threads (round trips on a remote host).
        """
        after = pop_after(job)
        failed = failed_dependency(after)
        if failed is not None:
            return NotSubmitted(failed)
        # Ended well: nothing to wait for (and SLURM may have forgotten them).
        after = [(dep, jobid) for dep, jobid in after if not dep.state.finished]
        if self.arrays:
            return await ArrayBatcher.get(self.cluster).launch(self, job, env, after)
        return await self.submit_one(job, env, dependency_args([i for _, i in after], None),
                                     after)

    async def submit_one(self, job, env: dict[str, str], dependency: list[str],
                         after: list) -> ProcessHandle:
        """``sbatch`` of one job (``dependency``: ``["--dependency=..."]`` or [])."""
        connector = self.connector

        def argv_of() -> list[str]:
            argv = self.processbuilder().sbatch_args(job, self.scriptbuilder().write(job, env))
            return [*argv[:-1], *dependency, argv[-1]]  # the script stays last

        argv = await connector.call(argv_of)
        submission = asyncio.ensure_future(self.runner.run("sbatch", *argv, cwd=str(job.path)))
        try:
            r = await asyncio.shield(submission)
        except asyncio.CancelledError:
            # Cancelled while sbatch runs: do not leave an unfollowed job in the queue.
            r = await submission
            if r.returncode == 0:
                handle = await connector.call(self._submitted, job, argv, r, after)
                await connector.call(handle.kill)
            raise
        handle = await connector.call(self._submitted, job, argv, r, after)
        self.noted(job, handle)
        handle.poller.kick()
        return handle

    def noted(self, job, handle: SlurmJobHandle) -> None:
        """Jobs depending on ``job`` may now be submitted with ``--dependency`` on it."""
        note_submitted(job, self.cluster, handle.jobid)

    def sbatch_jobid(self, r, what: str, argv: list[str]) -> str:
        """The job id sbatch printed, or the error of a refused submission."""
        if r.returncode != 0 and UNREACHABLE in r.stderr:
            # Not the job's fault: an options fix would be the wrong advice.
            msg = (f"sbatch could not reach the SLURM controller for {what} "
                   f"(exit {r.returncode}): {r.stderr.strip()}. The job was not submitted; "
                   "check that slurmctld runs (`scontrol ping`), then submit it again")
            raise ConnectorError(msg)
        if r.returncode != 0:
            msg = (f"sbatch refused {what} (exit {r.returncode}): "
                   f"{r.stderr.strip() or r.stdout.strip()}. Command: "
                   f"{shlex.join([self.binpath + '/sbatch', *argv])}. Fix the launcher's "
                   "SlurmOptions (partition, account, qos, time...)")
            raise SubmissionError(msg)
        lines = r.stdout.strip().splitlines()
        return check_jobid(lines[-1].split(";")[0].strip() if lines else "",
                           f"the output of sbatch for {what}")

    def record(self, job, jobid: str, argv: list[str], after: list,
               array: dict | None = None) -> SlurmJobHandle:
        """Write the job's ``slurm.json`` (a new kernel follows that SLURM job)."""
        record = {"jobid": jobid, "submitted": time.time(), "host": self.connector.hostname,
                  "binpath": self.binpath, "args": argv, **(array or {})}
        if after:
            record["after"] = [jobid for _, jobid in after]
        self.connector.write_atomic(record_path(job), json.dumps(record))
        return SlurmJobHandle(self, jobid, job.paths, after)

    def _submitted(self, job, argv: list[str], r, after=()) -> SlurmJobHandle:
        jobid = self.sbatch_jobid(r, f"job {job.locator}", argv)
        return self.record(job, jobid, argv, list(after))

    async def attach(self, job) -> ProcessHandle | None:
        """Follow the SLURM job recorded in the job folder (e.g. before a kernel restart)."""
        record = await self.connector.call(read_record, job, self.connector)
        if record is None:
            return None  # launch_async takes the job's SLURM dependencies
        handle = SlurmJobHandle(self, record["jobid"], job.paths, pop_after(job))
        self.noted(job, handle)
        return handle


def record_path(job) -> Path:
    return job.paths.slurm_record


def read_record(job, connector) -> dict | None:
    """The SLURM job record of a job folder, or None.

    Its job id is checked (an ``InvalidArgumentError`` naming the file if it is not one): it
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
        path = job.paths.slurm_script
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
