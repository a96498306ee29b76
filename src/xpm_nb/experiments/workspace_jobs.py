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
from datetime import datetime
from pathlib import Path

from ..core.params import atomic_write
from ..scheduler.jobs import JobPaths, JobState, pid_alive, read_disk_state
from ..scheduler.runlock import CRASHED, RUN_LOCK_NAME, lock_is_held
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
        return JobPaths(self.path, self.task.rsplit(".", 1)[-1])

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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_records(run: Path) -> list[dict]:
    try:
        lines = (run / "jobs.jsonl").read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn line of a run that was killed
        if isinstance(record, dict) and record.get("job_id") and record.get("task_id"):
            records.append(record)
    return records


def _current_run(xp_path: Path) -> Path | None:
    current = xp_path / "current"
    if current.is_symlink() or current.is_dir():
        run = xp_path / os.readlink(current) if current.is_symlink() else current
        if run.is_dir():
            return run
    runs = sorted(p for p in xp_path.iterdir() if p.is_dir() and p.name != "current")
    return runs[-1] if runs else None


def workspace_experiments(ws: Workspace) -> list[ExperimentInfo]:
    """Every experiment of the workspace, with its current run."""
    out = []
    root = ws.experimentspath
    if not root.is_dir():
        return out
    for xp_path in sorted(p for p in root.iterdir() if p.is_dir()):
        run = _current_run(xp_path)
        runs = sum(1 for p in xp_path.iterdir() if p.is_dir() and not p.is_symlink())
        status = _read_json(run / "status.json") if run else None
        records = _run_records(run) if run else []
        jobs = list(dict.fromkeys(f"{r['task_id']}/{r['job_id']}" for r in records))
        if not isinstance(status, dict):  # a damaged status file is ignored, not fatal
            status = {}
        recorded = status.get("status")
        if recorded == "running" and not _run_is_live(xp_path, run):
            recorded = CRASHED
        out.append(ExperimentInfo(
            xp_path.name, xp_path, run.name if run else None, recorded, runs, jobs,
            status.get("hostname"), _timestamp(status.get("last_updated"))))
    return out


def _timestamp(value) -> float | None:
    """Seconds since the epoch: ours are numbers, the reference's ISO 8601 strings."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _run_is_live(xp_path: Path, run: Path) -> bool:
    """Whether the driver of ``run`` still has it open (holds its lock; runlock.py)."""
    held = lock_is_held(run / RUN_LOCK_NAME)
    if held is None:
        # No lock of its own: a run of the reference, which holds the
        # experiment's lock instead while it runs (or of an older xpm_nb).
        held = lock_is_held(xp_path / "lock")
    return held is not False  # nothing to tell by: trust status.json


def workspace_jobs(ws: Workspace, experiment: str | None = None) -> list[JobInfo]:
    """Every job folder of the workspace (of ``experiment``'s current run only, if given)."""
    tags: dict[str, dict] = {}
    owners: dict[str, set] = {}
    submitted: dict[str, float] = {}
    wanted: set[str] | None = None
    root = ws.experimentspath
    if root.is_dir():
        for xp_path in (p for p in root.iterdir() if p.is_dir()):
            current = _current_run(xp_path)
            for run in (p for p in xp_path.iterdir() if p.is_dir() and not p.is_symlink()):
                for r in _run_records(run):
                    locator = f"{r['task_id']}/{r['job_id']}"
                    tags.setdefault(locator, {}).update(r.get("tags") or {})
                    owners.setdefault(locator, set()).add(xp_path.name)
                    if isinstance(r.get("timestamp"), (int, float)):
                        submitted[locator] = max(submitted.get(locator, 0), r["timestamp"])
                    if experiment == xp_path.name and current is not None and run == current:
                        wanted = (wanted or set()) | {locator}
    if experiment is not None and wanted is None:
        return []
    jobs = []
    if not ws.jobspath.is_dir():
        return jobs
    for task_dir in sorted(p for p in ws.jobspath.iterdir() if p.is_dir()):
        for job_dir in sorted(p for p in task_dir.iterdir() if p.is_dir()):
            locator = f"{task_dir.name}/{job_dir.name}"
            if wanted is not None and locator not in wanted:
                continue
            jobs.append(_job_info(job_dir, task_dir.name, tags.get(locator, {}),
                                  owners.get(locator, set()), submitted.get(locator)))
    jobs.sort(key=lambda j: j.submitted or 0, reverse=True)
    return jobs


def _job_info(path: Path, task: str, tags: dict, owners: set, submitted: float | None) -> JobInfo:
    paths = JobPaths(path, task.rsplit(".", 1)[-1])
    state, info = read_disk_state(paths)
    status = _read_json(paths.status)
    if not isinstance(status, dict):  # a damaged status file is ignored, not fatal
        status = {}
    recorded_tags = status.get("tags")
    merged_tags = {**(recorded_tags if isinstance(recorded_tags, dict) else {}), **tags}
    reason = None
    pid = None
    if state is JobState.ERROR:
        reason = info.get("reason") or (f"exit code {info['code']}" if "code" in info else None)
    elif state is JobState.RUNNING:
        pid = info.get("pid")
    if state is None:
        # No marker and no live process: submitted but not finished (or never started).
        recorded = status.get("state")
        value = recorded if recorded in ("waiting", "ready", "scheduled") else "unscheduled"
    else:
        value = state.value
    if submitted is None:
        submitted = status.get("submitted_time")
    if submitted is None:
        try:
            submitted = path.stat().st_mtime
        except OSError:
            submitted = None
    return JobInfo(path, task, path.name, value, merged_tags, owners, reason, pid, submitted)


def kill_job(job: JobInfo, grace: float = 5.0) -> str:
    """Stop a running job (its process group), then record it as failed; returns what happened."""
    info = _read_json(job.paths.pid) or {}
    pid = info.get("pid")
    if pid is None:
        return "not running"
    if info.get("host", socket.gethostname()) != socket.gethostname():
        return f"runs on {info.get('host')}: kill it from there"
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
        atomic_write(paths.failed, json.dumps({"code": -signal.SIGTERM,
                                               "reason": "killed (xpm-nb jobs kill)"}))
    return "killed"


def clean_job(job: JobInfo, ws: Workspace | None = None) -> str:
    """Delete a finished job's folder (and the experiments' links to it)."""
    state, _ = read_disk_state(job.paths)
    if state not in (JobState.DONE, JobState.ERROR):
        return f"{job.state}: not cleaned (only finished jobs are)"
    shutil.rmtree(job.path)
    if ws is not None and ws.experimentspath.is_dir():
        for link in ws.experimentspath.glob(f"*/*/jobs/{job.task}/{job.id}"):
            if link.is_symlink():
                link.unlink()
    return "deleted"
