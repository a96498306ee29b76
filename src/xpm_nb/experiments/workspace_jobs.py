"""The jobs and experiments of a workspace, read from disk (for ``xpm-nb jobs|experiments``).

The marker files give each job's state (as everywhere in xpm_nb); tags come
from the experiments' ``jobs.jsonl`` files (where the reference keeps them
too) and the job's ``.experimaestro/status.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.params import atomic_write
from ..layout import (
    CURRENT,
    ExperimentPaths,
    JobPaths,
    RunJob,
    RunPaths,
    failed_content,
    parse_jobs_lines,
    parse_pid_file,
    parse_seconds,
    parse_time,
    pid_alive,
)
from ..results import safeio
from ..results.eventscan import EVENTS_LIMIT, BadFile
from ..scheduler.jobs import JobState
from ..scheduler.runlock import CRASHED, lock_is_held
from ..scheduler.workspace import Workspace

__all__ = ["JobInfo", "ExperimentInfo", "workspace_jobs", "workspace_experiments", "kill_job",
           "clean_job"]


@dataclass
class JobInfo:
    """A job folder of the workspace and what its files say."""

    path: Path
    task: str
    id: str
    state: str
    tags: dict = field(default_factory=dict)
    experiments: set = field(default_factory=set)
    reason: str | None = None
    pid: int | None = None
    submitted: float | None = None

    @property
    def name(self) -> str:
        return f"{self.task}/{self.id}"

    @property
    def paths(self) -> JobPaths:
        return JobPaths.of_task(self.path, self.task)

    def record(self) -> dict:
        """The fields a filter expression sees (``@state``, ``@name``, ...) and the tags."""
        return {"state": self.state, "name": self.name, "task": self.task, "id": self.id,
                "tags": self.tags, "path": str(self.path), "reason": self.reason,
                "experiments": sorted(self.experiments), "submitted": self.submitted}


@dataclass
class ExperimentInfo:
    """An experiment of the workspace and its current run.

    ``status`` is the run's ``status.json`` (``running``, ``done``, ``failed``),
    except that a run recorded "running" whose lock nobody holds is ``crashed``:
    its driver died without closing it (``kill -9``, a dead kernel or machine).
    """

    name: str
    path: Path
    current: str | None
    status: str | None
    runs: int
    jobs: list[str]  # locators of the current run's jobs
    hostname: str | None = None
    last_updated: float | None = None


# Every file of the workspace is read as untrusted input (results/safeio.py):
# bounded, never blocking on a FIFO, never following a last symbolic link; a
# bad file is noted (the command line prints the notes) and its job listed
# without what it holds.
_read_json = safeio.read_json


def _run_records(run: Path) -> list[RunJob]:
    """The lines of a run's ``jobs.jsonl`` naming a job (``layout.JOBS_JSONL_RULE``)."""
    path = RunPaths(run).jobs_jsonl
    try:
        blob = safeio.read_small(str(path), EVENTS_LIMIT)
    except BadFile as exc:
        safeio.bad(path, exc)
        return []
    except OSError:
        return []
    return parse_jobs_lines(blob or b"", path, safeio.note)[0]


def _folders(path: Path) -> list[Path]:
    """The sub-folders of ``path`` (not links to folders); none if it cannot be listed."""
    try:
        return sorted(p for p in path.iterdir() if safeio.job_folder(p))
    except OSError as exc:
        safeio.note(f"{path}: cannot be listed ({exc.strerror or exc}): skipped. "
                    "Fix: its permissions")
        return []


def _current_run(xp_path: Path) -> Path | None:
    current = ExperimentPaths(xp_path).current
    try:
        if current.is_symlink() or current.is_dir():
            run = xp_path / os.readlink(current) if current.is_symlink() else current
            if run.is_dir():
                return run
    except OSError:
        pass
    runs = [p for p in _folders(xp_path) if p.name != CURRENT]
    return runs[-1] if runs else None


def _text(value) -> str | None:
    """A value to show as text: a string as it is, None, or anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)[:200]


def workspace_experiments(ws: Workspace) -> list[ExperimentInfo]:
    """Every experiment of the workspace, with its current run."""
    out = []
    root = ws.experimentspath
    if not root.is_dir():
        return out
    for xp_path in _folders(root):
        run = _current_run(xp_path)
        runs = len(_folders(xp_path))
        status = _read_json(RunPaths(run).status) if run else None
        records = _run_records(run) if run else []
        jobs = list(dict.fromkeys(f"{r.task_id}/{r.job_id}" for r in records))
        if not isinstance(status, dict):  # a damaged status file is ignored, not fatal
            status = {}
        recorded = _text(status.get("status"))
        if recorded == "running" and not _run_is_live(xp_path, run):
            recorded = CRASHED
        out.append(ExperimentInfo(
            xp_path.name, xp_path, run.name if run else None, recorded, runs, jobs,
            _text(status.get("hostname")), parse_time(status.get("last_updated"))))
    return out


def _run_is_live(xp_path: Path, run: Path) -> bool:
    """Whether the driver of ``run`` still has it open (holds its lock; runlock.py)."""
    held = lock_is_held(RunPaths(run).lock)
    if held is None:
        # No lock of its own: a run of the reference, which holds the
        # experiment's lock instead while it runs (or of an older xpm_nb).
        held = lock_is_held(ExperimentPaths(xp_path).lock)
    return held is not False  # nothing to tell by: trust status.json


def workspace_jobs(ws: Workspace, experiment: str | None = None) -> list[JobInfo]:
    """Every job folder of the workspace (of ``experiment``'s current run only, if given)."""
    tags: dict[str, dict] = {}
    owners: dict[str, set] = {}
    submitted: dict[str, float] = {}
    wanted: set[str] | None = None
    root = ws.experimentspath
    if root.is_dir():
        for xp_path in _folders(root):
            current = _current_run(xp_path)
            for run in _folders(xp_path):
                for r in _run_records(run):
                    locator = f"{r.task_id}/{r.job_id}"
                    tags.setdefault(locator, {}).update(r.tags)
                    owners.setdefault(locator, set()).add(xp_path.name)
                    when = r.timestamp
                    if when is not None:
                        submitted[locator] = max(submitted.get(locator, 0), when)
                    if experiment == xp_path.name and current is not None and run == current:
                        wanted = (wanted or set()) | {locator}
    if experiment is not None and wanted is None:
        return []
    jobs = []
    if not ws.jobspath.is_dir():
        return jobs
    for task_dir in _folders(ws.jobspath):
        for job_dir in _folders(task_dir):
            locator = f"{task_dir.name}/{job_dir.name}"
            if wanted is not None and locator not in wanted:
                continue
            jobs.append(_job_info(job_dir, task_dir.name, tags.get(locator, {}),
                                  owners.get(locator, set()), submitted.get(locator)))
    jobs.sort(key=lambda j: j.submitted or 0, reverse=True)
    return jobs


def _job_info(path: Path, task: str, tags: dict, owners: set, submitted: float | None) -> JobInfo:
    paths = JobPaths.of_task(path, task)
    state, info = safeio.disk_state(paths)
    status = _read_json(paths.status)
    if not isinstance(status, dict):  # a damaged status file is ignored, not fatal
        status = {}
    recorded_tags = status.get("tags")
    merged_tags = {**(recorded_tags if isinstance(recorded_tags, dict) else {}), **tags}
    reason = None
    pid = None
    if state is JobState.ERROR:
        reason = _text(info.get("reason") or (
            f"exit code {_text(info['code'])}" if "code" in info else None))
    elif state is JobState.RUNNING:
        pid = info.get("pid")
    if state is None:
        # No marker and no live process: submitted but not finished (or never started).
        recorded = status.get("state")
        value = recorded if recorded in ("waiting", "ready", "scheduled") else "unscheduled"
    else:
        value = state.value
    if submitted is None:
        submitted = parse_seconds(status.get("submitted_time"))
    if submitted is None:
        try:
            submitted = path.stat().st_mtime
        except OSError:
            submitted = None
    return JobInfo(path, task, path.name, value, merged_tags, owners, reason, pid, submitted)


def kill_job(job: JobInfo, grace: float = 5.0) -> str:
    """Stop a running job (its process group), then record it as failed; returns what happened."""
    try:
        info = parse_pid_file(safeio.read_noted(job.paths.pid))
    except OSError:
        info = None
    pid = info["pid"] if info is not None else None
    if pid is None or not 0 < pid < 1 << 31:
        return "not running"
    if info.get("host", socket.gethostname()) != socket.gethostname():
        return f"runs on {info.get('host')}: kill it from there"
    from ..scheduler.jobs import live_pid

    if live_pid(info) is None:  # never signal a pid now used by another process
        return ("not running (stale pid file: its process is gone or its pid is now "
                "another process's)")
    try:
        os.killpg(os.getpgid(int(pid)), signal.SIGTERM)
    except (ProcessLookupError, PermissionError) as exc:
        return f"cannot signal pid {pid}: {exc}"
    deadline = time.monotonic() + grace
    while pid_alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(int(pid)):
        try:
            os.killpg(os.getpgid(int(pid)), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    paths = job.paths
    if not paths.done.exists() and not paths.failed.exists():
        # The process died on the signal without writing its marker.
        atomic_write(paths.failed, failed_content(-signal.SIGTERM, "killed (xpm-nb jobs kill)"))
    return "killed"


def clean_job(job: JobInfo, ws: Workspace | None = None) -> str:
    """Delete a finished job's folder (and the experiments' links to it)."""
    state, _ = safeio.disk_state(job.paths)
    if job.path.is_symlink() or job.path.parent.is_symlink():
        return "a symbolic link: not followed, not cleaned"
    if state not in (JobState.DONE, JobState.ERROR):
        return f"{job.state}: not cleaned (only finished jobs are)"
    shutil.rmtree(job.path)
    if ws is not None and ws.experimentspath.is_dir():
        for link in ws.experimentspath.glob(f"*/*/jobs/{job.task}/{job.id}"):
            if link.is_symlink():
                link.unlink()
    return "deleted"
