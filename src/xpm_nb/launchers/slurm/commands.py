"""SLURM client commands (``sbatch``, ``squeue``, ``sacct``, ``scancel``) and their output.

Commands run through the launcher's connector: a connector that can run
commands itself (e.g. over SSH) provides ``async run_command(argv, env=...,
cwd=..., timeout=...) -> (returncode, stdout, stderr)`` and its blocking twin
``run_command_sync``; otherwise they run as local processes.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass

__all__ = ["CommandRunner", "CommandResult", "SlurmStatus", "parse_squeue", "parse_sacct",
           "FINAL_STATES", "PENDING_STATES", "exit_of", "is_jobid", "check_jobid",
           "expand_array_ids", "array_base"]

# States after which a SLURM job never changes again.
FINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
    "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT",
})
# States of a job that has not started (or was put back in the queue).
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                            "RESV_DEL_HOLD", "CONFIGURING"})

# One squeue line per job: id, state, reason, raw wait status ("exit_code"), time left.
# JobArrayID: an array task as ``<array>_<index>`` (the id xpm_nb records), the tasks
# SLURM has not split off yet as one line ``<array>_[0-9,12%4]`` (expanded on reading).
SQUEUE_FORMAT = "JobArrayID:|,State:|,Reason:|,exit_code:|,TimeLeft:|"

# A SLURM job id: digits, or an array task ``<digits>_<digits>``. Anything else read
# from a file (``slurm.json``) is refused: it goes to scancel/squeue/sacct.
_JOBID = re.compile(r"[0-9]+(?:_[0-9]+)?")


def is_jobid(value) -> bool:
    """Whether ``value`` is a SLURM job id (a string of digits, optional ``_<digits>``)."""
    return type(value) is str and len(value) <= 40 and _JOBID.fullmatch(value) is not None


def check_jobid(value, where) -> str:
    """``value`` if it is a SLURM job id, else an ``InvalidArgumentError`` naming ``where`` (a file)."""
    if type(value) is int and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not is_jobid(value):
        from ...errors import InvalidArgumentError

        msg = (f"{where}: the SLURM job id {str(value)[:80]!r} is not a job id (expected "
               "digits, or <digits>_<digits> for an array task); it is never passed to "
               "scancel/squeue. Fix: delete the file (the job is then submitted again) "
               "or write the right id in it")
        raise InvalidArgumentError(msg)
    return value


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class SlurmStatus:
    """What SLURM says of one job."""

    jobid: str
    state: str  # e.g. PENDING, RUNNING, COMPLETED, TIMEOUT ("CANCELLED by 0" → CANCELLED)
    reason: str = ""
    exit_code: int | None = None  # negative: killed by that signal
    time_left: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES


class CommandRunner:
    """Runs the SLURM client programs of ``binpath`` with ``launcherenv`` added."""

    def __init__(self, connector, binpath: str, launcherenv: dict[str, str] | None):
        self.connector = connector
        self.binpath = binpath
        self.launcherenv = dict(launcherenv or {})

    def _argv(self, program: str, args) -> list[str]:
        path = os.path.join(self.binpath, program) if self.binpath else program
        return [path, *map(str, args)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.launcherenv)
        return env

    async def run(self, program: str, *args, cwd: str | None = None,
                  timeout: float = 60) -> CommandResult:
        argv = self._argv(program, args)
        remote = getattr(self.connector, "run_command", None)
        if remote is not None:
            code, out, err = await remote(argv, env=self.launcherenv, cwd=cwd, timeout=timeout)
            return CommandResult(code, out, err)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=cwd, env=self._env())
        except OSError as exc:
            return CommandResult(127, "", f"cannot run {argv[0]}: {exc}")
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return CommandResult(124, "", f"{argv[0]} did not answer within {timeout} s")
        return CommandResult(proc.returncode, out.decode(errors="replace"),
                             err.decode(errors="replace"))

    def run_sync(self, program: str, *args, timeout: float = 60) -> CommandResult:
        argv = self._argv(program, args)
        remote = getattr(self.connector, "run_command_sync", None)
        if remote is not None:
            code, out, err = remote(argv, env=self.launcherenv, cwd=None, timeout=timeout)
            return CommandResult(code, out, err)
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=self._env(), timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return CommandResult(127, "", f"cannot run {argv[0]}: {exc}")
        return CommandResult(r.returncode, r.stdout, r.stderr)


def _wait_status(raw: str) -> int | None:
    """squeue's ``exit_code`` is a wait status: 768 = exit 3, 15 = signal 15."""
    try:
        status = int(raw)
    except ValueError:
        return None
    if status & 0x7F:
        return -(status & 0x7F)
    return status >> 8


def _state(text: str) -> str:
    return text.split()[0].rstrip("+") if text.strip() else "UNKNOWN"


def parse_squeue(text: str) -> dict[str, SlurmStatus]:
    """Lines of ``squeue -h -O`` with :data:`SQUEUE_FORMAT`."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5 or not parts[0]:
            continue
        jobid, state, reason, status, left = (p.strip() for p in parts[:5])
        for one in expand_array_ids(jobid):
            out[one] = SlurmStatus(one, _state(state), reason, _wait_status(status), left)
    return out


_ARRAY_RECORD = re.compile(r"([0-9]+)_\[([0-9,\-]+)(?:%[0-9]+)?\]")


def expand_array_ids(jobid: str) -> list[str]:
    """``"7_[1,3-4%2]"`` (array tasks SLURM keeps in one record) → ``["7_1", "7_3", "7_4"]``;
    any other id unchanged."""
    m = _ARRAY_RECORD.fullmatch(jobid)
    if m is None:
        return [jobid]
    base, out = m.group(1), []
    for part in m.group(2).split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            continue
        out += [f"{base}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def array_base(jobid: str) -> str | None:
    """The array of an array task id (``"7_3"`` → ``"7"``), else None."""
    base, sep, _ = jobid.partition("_")
    return base if sep else None


def parse_sacct(text: str) -> dict[str, SlurmStatus]:
    """Lines of ``sacct -n -P -X -o JobID,State,ExitCode,Reason`` (``JobID``: array
    tasks as ``<array>_<index>``).

    ``ExitCode`` is ``code:signal`` (``3:0``; ``0:15`` for a job killed by SIGTERM).
    """
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        state, exitcode = parts[1], parts[2]
        reason = parts[3] if len(parts) > 3 else ""
        code: int | None = None
        if ":" in exitcode:
            c, s = exitcode.split(":", 1)
            try:
                code = -int(s) if int(s) else int(c)
            except ValueError:
                code = None
        for jobid in expand_array_ids(parts[0]):
            out[jobid] = SlurmStatus(jobid, _state(state), reason, code)
    return out


def exit_of(status: SlurmStatus, cancelled_by_us: bool = False):
    """The :class:`~xpm_nb.launchers.ProcessExit` of a finished SLURM job."""
    from .. import ProcessExit as _Exit

    def ProcessExit(code, reason=None, timeout=False):  # noqa: N802 - SLURM ended the job
        return _Exit(code, reason, timeout, by_launcher=state not in ("COMPLETED", "FAILED"))

    jid, code, state = status.jobid, status.exit_code, status.state
    where = f"SLURM job {jid}"
    if state == "COMPLETED":
        return ProcessExit(code if code is not None else 0)
    if state == "FAILED":
        what = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        return ProcessExit(code, f"{what} ({where} FAILED)")
    if state == "TIMEOUT":
        return ProcessExit(code, f"timeout: {where} reached its time limit (TIMEOUT)",
                           timeout=True)
    if state == "CANCELLED":
        if cancelled_by_us:
            return ProcessExit(code, "cancelled")
        return ProcessExit(code, f"cancelled: {where} was cancelled outside xpm_nb "
                                 "(scancel, or an administrator)")
    if state == "OUT_OF_MEMORY":
        return ProcessExit(code, f"out of memory: {where} went over its memory limit "
                                 "(OUT_OF_MEMORY); ask for more with SlurmOptions(mem=...)")
    if state == "NODE_FAIL":
        return ProcessExit(code, f"node failure: a node of {where} failed (NODE_FAIL)")
    if state == "PREEMPTED":
        return ProcessExit(code, f"preempted: {where} was preempted (PREEMPTED)")
    if state == "DEADLINE":
        return ProcessExit(code, f"deadline: {where} could not end before its deadline "
                                 "(DEADLINE)")
    return ProcessExit(code, f"{where} ended {state} ({status.reason or 'no reason given'})")
