"""What a result frame lists: the jobs of an experiment, of a workspace, or given.

Each job becomes a :class:`JobRecord` (its folder, task id, identifier, tags,
submission time and, for jobs of this process, the :class:`Job` itself).
On disk the tags live in the runs' ``jobs.jsonl`` (written by xpm_nb and by
the reference alike); that file is append-only, so it is re-read from the
last offset on each rebuild.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import layout
from ..errors import ResultsError, WorkspaceError
from . import safeio
from .eventscan import BadFile, parse_lines, read_from

__all__ = ["JobRecord", "records_of", "parse_lines"]


@dataclass(slots=True)
class JobRecord:
    """One row of a result frame, before its folder is read."""

    task_id: str
    job_id: str
    path: str
    tags: dict[str, Any]
    submitted: float | None = None
    experiment: str | None = None
    job: Any = None  # the scheduler's Job, for jobs of this process
    run_state: str | None = None  # the state the run's status.json records
    marker: str = ""  # the .done marker's path

    def __post_init__(self):
        if not self.marker:
            self.marker = f"{self.path}/{layout.done_file(self.name)}"

    @property
    def name(self) -> str:
        """``<name>`` of the marker files: the last dotted part of the task id."""
        return layout.job_name(self.task_id)

    @property
    def paths(self) -> layout.JobPaths:
        return layout.JobPaths(self.path, self.name)


def records_of(source, experiment: str | None = None, run: str | None = None
               ) -> list[JobRecord]:
    """The jobs of ``source``: an experiment, a path, or jobs / submitted tasks."""
    from ..scheduler.experiment import experiment as Experiment  # noqa: N812

    if isinstance(source, Experiment):
        return [_from_job(job, source.name) for job in source.jobs]
    if isinstance(source, (str, os.PathLike)):
        return _from_path(Path(source), experiment, run)
    if isinstance(source, (list, tuple, set)) or _is_job_like(source):
        items = [source] if _is_job_like(source) else list(source)
        return _from_jobs(items)
    msg = (
        f"results(): cannot read results from {source!r} (a {type(source).__qualname__}). "
        "Fix: give an experiment, a workspace path (and an experiment name), or a list "
        "of submitted tasks or jobs"
    )
    raise ResultsError(msg)


def _is_job_like(obj) -> bool:
    from ..core.objects import ConfigMixin
    from ..scheduler.jobs import Job

    return isinstance(obj, (Job, ConfigMixin))


def _from_job(job, experiment: str | None) -> JobRecord:
    return JobRecord(job.type_id, job.identifier, str(job.path), dict(job.tags),
                     job.submitted_time, experiment, job)


def _from_jobs(items: list) -> list[JobRecord]:
    from ..errors import XPMError
    from ..scheduler.submit import job_of

    records, seen = [], set()
    for n, item in enumerate(items):
        try:
            job = job_of(item)
        except XPMError as exc:
            msg = f"results(): item {n} of the list: {exc}"
            raise ResultsError(msg) from None
        if id(job) not in seen:
            seen.add(id(job))
            records.append(_from_job(job, None))
    return records


# --- workspaces on disk ------------------------------------------------------


def _from_path(path: Path, experiment: str | None, run: str | None) -> list[JobRecord]:
    """A workspace (one or all experiments), an experiment folder or a run folder."""
    if not path.exists():
        msg = f"results(): {path} does not exist. Fix: give the path of a workspace"
        raise WorkspaceError(msg)
    as_run, as_experiment = layout.RunPaths(path), layout.ExperimentPaths(path)
    if as_run.jobs_jsonl.is_file():  # a run folder
        return _from_run(path, as_run.workspace, as_run.experiment)
    if as_experiment.current.exists() and (path.parent.name == "experiments"):
        return _from_run(_run_folder(path, run), path.parent.parent, path.name)
    workspace = layout.WorkspacePaths(path)
    if not workspace.is_workspace():
        msg = (
            f"results(): {path} is not a workspace (no .__experimaestro__ file, no jobs/ "
            "folder) nor an experiment run. Fix: give the folder passed to experiment(...)"
        )
        raise WorkspaceError(msg)
    experiments = workspace.experiments
    names = sorted(p.name for p in experiments.iterdir() if p.is_dir()) if (
        experiments.is_dir()) else []
    if experiment is not None:
        if experiment not in names:
            msg = (
                f"results(): no experiment {experiment!r} in {path} (experiments: "
                f"{', '.join(names) or 'none'}). Fix: give one of these names, or None for all"
            )
            raise WorkspaceError(msg)
        names = [experiment]
    elif run is not None:
        msg = "results(): run=... needs an experiment name. Fix: results(ws, 'name', run=...)"
        raise ResultsError(msg)
    if len(names) == 1:  # no job to list twice
        try:
            return list(_from_run(_run_folder(experiments / names[0], run), path, names[0]))
        except WorkspaceError:
            if experiment is not None:
                raise
            return []
    records: list[JobRecord] = []
    seen: set[str] = set()
    for name in names:
        try:
            folder = _run_folder(experiments / name, run)
        except WorkspaceError:
            if experiment is not None:
                raise
            continue  # an experiment folder without a run: nothing to list
        for record in _from_run(folder, path, name):
            # A job shared by experiments is listed once (first experiment by name).
            if record.path not in seen:
                seen.add(record.path)
                records.append(record)
    return records


def _run_folder(xp_path: Path, run: str | None) -> Path:
    if run is not None:
        folder = xp_path / run
        if not layout.RunPaths(folder).jobs_jsonl.exists() and not folder.is_dir():
            runs = sorted(p.name for p in xp_path.iterdir() if p.is_dir() and p.name != "jobs")
            msg = (
                f"results(): no run {run!r} in {xp_path} (runs: {', '.join(runs) or 'none'}). "
                "Fix: give one of these run ids, or run=None for the current run"
            )
            raise WorkspaceError(msg)
        return folder
    current = layout.ExperimentPaths(xp_path).current
    if current.exists():
        return current.resolve()
    runs = sorted(p for p in xp_path.iterdir() if layout.RunPaths(p).jobs_jsonl.exists())
    if not runs:
        msg = f"results(): experiment folder {xp_path} has no run (no jobs.jsonl in it)"
        raise WorkspaceError(msg)
    return runs[-1]


_runs_cache: dict[tuple, tuple] = {}  # (run, workspace, experiment) -> (key, records)


def _from_run(run: Path, workspace: Path, experiment: str) -> list[JobRecord]:
    """The jobs of a run; the list is kept while jobs.jsonl and status.json are unchanged."""
    run_paths = layout.RunPaths(run)
    entry = _jobs_jsonl(run_paths.jobs_jsonl)
    status = run_paths.status
    try:
        status_mtime = os.stat(status).st_mtime_ns
    except OSError:
        status_mtime = None
    cache_key = (str(run), str(workspace), experiment)
    version = (entry.inode, entry.offset, status_mtime)
    cached = _runs_cache.get(cache_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    states = _run_states(status)
    base = str(layout.WorkspacePaths(workspace).jobs)
    markers: dict[str, str] = {}
    records = []
    for (task_id, job_id), (tags, ts) in entry.jobs.items():
        marker = markers.get(task_id)
        if marker is None:
            marker = markers[task_id] = layout.done_file(layout.job_name(task_id))
        path = f"{base}/{task_id}/{job_id}"  # as text: 100,000 of them
        records.append(JobRecord(task_id, job_id, path, tags, ts, experiment, None,
                                 states.get(job_id), f"{path}/{marker}"))
    _runs_cache[cache_key] = (version, records)
    return records


def _run_states(path: Path) -> dict[str, str]:
    data = safeio.read_json(path)
    return layout.run_job_states(data if isinstance(data, dict) else {})


def _tags(value) -> dict:
    """The tags of a ``jobs.jsonl`` line: names -> scalars (other values as their JSON)."""
    if type(value) is not dict:
        return {}
    tags = {}
    for name, v in value.items():
        if v is None or type(v) in (str, bool, float) or (
                type(v) is int and -(1 << 63) <= v < 1 << 63):
            tags[name] = v
        else:  # a list, an object, a huge int: hashable and printable as text
            tags[name] = json.dumps(v, default=str)
    return tags


@dataclass
class _JsonlCache:
    inode: int
    offset: int
    jobs: dict = field(default_factory=dict)


_jsonl_cache: dict[str, _JsonlCache] = {}


def read_jobs_jsonl(path: Path) -> dict[tuple[str, str], tuple[dict, float | None]]:
    """``(task id, job id) -> (tags, timestamp)`` of a run (the last line of a job wins)."""
    return _jobs_jsonl(path).jobs


def _jobs_jsonl(path: Path) -> _JsonlCache:
    """The cached read of a run's jobs.jsonl, brought up to date (new lines only)."""
    key = str(path)
    try:
        st = os.lstat(key)
    except OSError:
        _jsonl_cache.pop(key, None)
        return _JsonlCache(0, 0)
    if not stat.S_ISREG(st.st_mode):  # a FIFO, a link to a device...: not read
        _jsonl_cache.pop(key, None)
        safeio.bad(key, BadFile("is not a regular file"))
        return _JsonlCache(0, 0)
    entry = _jsonl_cache.get(key)
    if entry is None or entry.inode != st.st_ino or st.st_size < entry.offset:
        entry = _JsonlCache(st.st_ino, 0)
        _jsonl_cache[key] = entry
    if st.st_size > entry.offset:
        try:
            blob = read_from(key, entry.offset)
        except BadFile as exc:
            safeio.bad(key, exc)
            _jsonl_cache.pop(key, None)
            return _JsonlCache(0, 0)
        except OSError:
            return entry
        lines, read = layout.parse_jobs_lines(blob, key, safeio.note)  # layout.JOBS_JSONL_RULE
        entry.offset += read
        jobs = entry.jobs
        for line in lines:
            jobs[(line.task_id, line.job_id)] = (_tags(line.tags), line.timestamp)
    return entry
