"""The experiments and runs of a workspace, read from its folders (for ``xpm_nb.browse``).

Nothing is re-run and no class is imported: a run's jobs come from its
``jobs.jsonl`` (ours and the reference's), each job's state from its marker
files (:func:`~xpm_nb.results.scan.summarize`: a job whose pid file names a
live process is running, whoever started it), its class name, dependencies
and configuration from its ``params.json``. :class:`PastJob` has the
attributes of a :class:`~xpm_nb.scheduler.jobs.Job` that the job table rows
(:func:`~xpm_nb.widgets.rows.job_row`) and the curves
(:class:`~xpm_nb.widgets.metrics.CurveFeed`) read, so the same views show a
past run. Imports no widget library.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import StateError, WorkspaceError, XPMError
from ..layout import (
    ExperimentPaths,
    JobFiles,
    JobPaths,
    RunPaths,
    WorkspacePaths,
    parse_failed,
    parse_json_object,
    parse_time,
    status_retry_count,
)
from ..results import safeio
from ..results.scan import summarize
from ..results.sources import records_of
from ..scheduler.follow import MetricsLog
from ..scheduler.jobs import Job, JobState
from ..scheduler.runlock import CRASHED, lock_is_held

__all__ = ["PastJob", "workspace_path", "list_experiments", "read_run", "params_tree",
           "compare_trees"]

MAX_VALUE = 200  # characters of a value shown in a configuration tree


def workspace_path(ws=None) -> Path:
    """The folder of ``ws`` (a path, a Workspace, or None: the current or default one)."""
    from ..scheduler.workspace import Workspace

    if ws is None:
        current = Workspace.CURRENT
        if current is not None:
            ws = current
        else:
            ws = _default_workspace()
    path = Path(getattr(ws, "path", ws)) if not isinstance(ws, (str, os.PathLike)) else Path(ws)
    path = path.expanduser()
    if not path.is_dir():
        msg = (f"browse(ws={str(path)!r}): no such folder. Fix: give the folder passed to "
               "experiment(...) (the workspace), e.g. xpm_nb.browse('/path/to/workspace')")
        raise WorkspaceError(msg)
    if not Workspace.is_workspace(path):
        msg = (f"browse(ws={str(path)!r}): this folder is not a workspace (no .__experimaestro__ "
               "file, no jobs/ folder). Fix: give the folder passed to experiment(...), the one "
               "holding jobs/ and experiments/")
        raise WorkspaceError(msg)
    return path


def _default_workspace():
    from ..experiments.settings import find_workspace

    try:
        return find_workspace(default_workdir=os.environ.get("XPM_NB_WORKDIR") or None).path
    except XPMError as exc:
        msg = (f"browse(): no workspace given and none configured ({exc}). "
               "Fix: xpm_nb.browse('/path/to/workspace')")
        raise WorkspaceError(msg) from None


# --- experiments and runs ---------------------------------------------------------


def _folders(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if safeio.job_folder(p))
    except OSError:
        return []


def _read(path: Path) -> bytes | None:
    """A small record's bytes, read as untrusted input; None when missing or unreadable
    (a FIFO, a link, too large...: noted by ``safeio``)."""
    try:
        return safeio.read_noted(path)
    except OSError:
        return None


def _time(value) -> float | None:
    """A time of ``status.json`` (:func:`~xpm_nb.layout.parse_time`) that a view shows:
    finite and exact as a JavaScript number (else None)."""
    seconds = parse_time(value)
    return seconds if seconds is not None and abs(seconds) < 1 << 53 else None


def _run_started(run: Path, status: dict) -> float | None:
    started = _time(status.get("started_at"))
    if started is None:  # the run id is its start, local time: YYYYMMDD_HHMMSS
        try:
            started = datetime.strptime(run.name[:15], "%Y%m%d_%H%M%S").timestamp()
        except ValueError:
            started = None
    if started is None:
        try:
            started = run.stat().st_mtime
        except OSError:
            pass
    return started


def _run_status(xp_path: Path, run: Path, status: dict) -> str:
    recorded = status.get("status")
    recorded = recorded if isinstance(recorded, str) else "unknown"
    if recorded == "running":
        held = lock_is_held(RunPaths(run).lock)
        if held is None:  # a reference run: it holds the experiment's lock while it runs
            held = lock_is_held(ExperimentPaths(xp_path).lock)
        if held is False:
            return CRASHED
    return recorded


def _counts(states: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    return counts


def _state_of(record, cache: dict) -> str:
    state = cache.get(record.path)
    if state is None:
        try:
            summary = summarize(record, with_events=False)
            state = summary.state
            if state == "error" and summary.failure == "cancelled":
                state = "cancelled"
        except OSError:
            state = "unscheduled"
        cache[record.path] = state
    return state


def _run_records(run: Path) -> list:
    """The jobs of a run's ``jobs.jsonl`` (read by ``layout.parse_jobs_lines``)."""
    if not RunPaths(run).jobs_jsonl.is_file():
        return []
    try:
        return records_of(run)
    except XPMError:
        return []


def _run_info(xp_path: Path, run: Path, current: str | None, states: dict) -> dict:
    status = parse_json_object(_read(RunPaths(run).status))
    records = _run_records(run)
    return {
        "experiment": xp_path.name,
        "run_id": run.name,
        "current": run.name == current,
        "status": _run_status(xp_path, run, status),
        "started": _run_started(run, status),
        "ended": _time(status.get("ended_at")),
        "hostname": status.get("hostname") if isinstance(status.get("hostname"), str) else None,
        "n_jobs": len(records),
        "counts": _counts([_state_of(r, states) for r in records]),
    }


def _current(xp_path: Path) -> str | None:
    try:
        return os.readlink(ExperimentPaths(xp_path).current).rstrip("/").rsplit("/", 1)[-1]
    except OSError:
        return None


def _is_run(run: RunPaths) -> bool:
    return run.jobs_jsonl.exists() or run.status.exists()


def list_experiments(ws_path: Path) -> list[dict]:
    """Every experiment of the workspace: ``{name, n_runs, last, status, counts, runs}``.

    ``runs`` (newest first) each hold ``{experiment, run_id, current, status,
    started, ended, hostname, n_jobs, counts}``; the experiment's ``status`` and
    ``counts`` are those of its current run (else its newest). Experiments are
    sorted by their last run, newest first.
    """
    states: dict[str, str] = {}  # job folder -> state: a job shared by runs is read once
    out = []
    for xp_path in _folders(WorkspacePaths(ws_path).experiments):
        current = _current(xp_path)
        runs = [_run_info(xp_path, run, current, states) for run in _folders(xp_path)
                if _is_run(RunPaths(run))]
        runs.sort(key=lambda r: (r["started"] or 0, r["run_id"]), reverse=True)
        main = next((r for r in runs if r["current"]), runs[0] if runs else None)
        out.append({
            "name": xp_path.name,
            "n_runs": len(runs),
            "last": runs[0]["started"] if runs else None,
            "status": main["status"] if main else "no run",
            "counts": dict(main["counts"]) if main else {},
            "runs": runs,
        })
    out.sort(key=lambda x: (x["last"] or 0, x["name"]), reverse=True)
    return out


def run_folder(ws_path: Path, experiment: str, run_id: str) -> Path:
    """The folder of a run, checked (names from a view are not trusted)."""
    if not (safeio.safe_name(experiment) and safeio.safe_name(run_id)):
        msg = (f"browse: experiment {experiment!r}, run {run_id!r}: not folder names of the "
               "workspace. Fix: pick a run from the list")
        raise WorkspaceError(msg)
    folder = WorkspacePaths(ws_path).experiment(experiment).run(run_id).path
    if not safeio.job_folder(folder):
        msg = (f"browse: no run {run_id!r} of experiment {experiment!r} in {ws_path} (folder "
               f"{folder} missing). Fix: refresh the list and pick a run from it")
        raise WorkspaceError(msg)
    return folder


# --- the jobs of a run ------------------------------------------------------------


class PastJob(JobFiles):
    """A job of a past run, as its folder describes it (read once; see the module).

    Its path attributes (``stdout``, ``stderr``...) are a Job's (``layout.JobFiles``)."""

    scheduler = None  # no scheduler follows it: the views read it as it is
    connector = property(lambda self: _local())
    log_tail = Job.log_tail  # the same tail of the same files

    def __init__(self, record, summary, params: dict | None):
        self.type_id: str = record.task_id
        self.identifier: str = record.job_id
        self.path = Path(record.path)
        self.name = record.name
        self.paths = JobPaths(self.path, self.name)
        self.tags: dict[str, Any] = dict(record.tags)
        try:
            self.state = JobState(summary.state)
        except ValueError:
            self.state = JobState.UNSCHEDULED
        self.failure_reason = summary.failure
        self.exit_code = None
        self.submitted_time = record.submitted
        self.started_time = summary.started
        self.ended_time = summary.ended
        self.progress = ([{"progress": summary.progress, "desc": None}]
                         if summary.progress is not None and self.state is JobState.RUNNING else [])
        self.params = params if isinstance(params, dict) else {}
        self.retry_count = status_retry_count(parse_json_object(_read(self.paths.status)))
        if self.state is JobState.ERROR:
            failed = _read(self.paths.failed)
            code = parse_failed(failed).get("code") if failed is not None else None
            self.exit_code = code if type(code) is int else None
        # The last values logged (log_metrics), as a follower would have them.
        log = MetricsLog()
        log.last, log.step, log.read = dict(summary.metrics or {}), summary.step, 1
        self.metrics_log = log
        self.dependencies: list[PastJob] = []
        root = _root_object(self.params)
        cls = root.get("type") if root else None
        cls = cls.rsplit(".", 1)[-1] if isinstance(cls, str) and cls else self.name
        # What the views read of a configuration: its class name and type id.
        self.config = SimpleNamespace(__xpmtype__=SimpleNamespace(
            cls=SimpleNamespace(__qualname__=cls, __name__=cls), identifier=self.type_id))

    # What a later read of the folder may change (a job another kernel runs goes on).
    _MOVING = ("state", "failure_reason", "exit_code", "started_time", "ended_time", "progress",
               "retry_count", "tags")

    def update_from(self, newer: PastJob) -> bool:
        """Take what a newer read of the same folder says; True if anything changed."""
        changed = False
        for name in self._MOVING:
            value = getattr(newer, name)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        old, new = self.metrics_log, newer.metrics_log
        if (old.last, old.step) != (new.last, new.step):
            old.last, old.step = dict(new.last), new.step
            changed = True
        return changed

    def __repr__(self) -> str:
        return f"PastJob({self.type_id}/{self.identifier[:12]}…, {self.state.value})"

    def cancel(self) -> bool:
        raise StateError(self._read_only("cancel"))

    def resubmit(self):
        raise StateError(self._read_only("resubmit"))

    def _read_only(self, action: str) -> str:
        return (f"{action}: {self.type_id}/{self.identifier[:12]} is shown from its folder "
                "(xpm_nb.browse, read only). Fix: run its experiment again, or use "
                "`xpm-nb jobs kill` for a running job")


def _local():
    from ..connectors.local import LocalConnector

    return LocalConnector.instance()


def _root_object(params: dict) -> dict | None:
    objects = params.get("objects") if isinstance(params, dict) else None
    if isinstance(objects, list) and objects and isinstance(objects[-1], dict):
        return objects[-1]
    return None


def _dependency_ids(params: dict, own: str) -> set[str]:
    """Identifiers of the jobs producing the objects a job's configuration uses."""
    objects = [o for o in params.get("objects") or [] if isinstance(o, dict)]
    by_id = {o.get("id"): o for o in objects}
    out = set()
    for o in objects:
        producer = by_id.get(o.get("task"))
        ident = producer.get("identifier") if producer else None
        if isinstance(ident, str) and ident != own:
            out.add(ident)
    return out


def read_run(ws_path: Path, experiment: str, run_id: str) -> list[PastJob]:
    """The jobs of a run, in submission order, with their states as the folders say now."""
    folder = run_folder(ws_path, experiment, run_id)
    jobs = []
    for record in _run_records(folder):
        summary = summarize(record)
        params = safeio.read_json(record.paths.params)
        jobs.append(PastJob(record, summary, params))
    jobs.sort(key=lambda j: j.submitted_time or 0)
    by_id = {j.identifier: j for j in jobs}
    for job in jobs:
        deps = _dependency_ids(job.params, job.identifier)
        job.dependencies = [by_id[d] for d in sorted(deps) if d in by_id]
    return jobs


# --- configurations (params.json) -----------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _kind_name(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") == "path":
        return "Path"
    return type(value).__name__ if value is not None else "None"


def _ref(value: Any):
    if isinstance(value, dict) and value.get("type") == "python" and "value" in value:
        return value["value"]
    return None


class _TreeBuilder:
    def __init__(self, objects: list[dict], tags: dict):
        self.by_id = {o.get("id"): o for o in objects if isinstance(o, dict)}
        self.tags = tags
        self.seen: set = set()

    def node(self, obj: dict, path: tuple = ()) -> dict:
        typename = obj.get("typename") or obj.get("type") or "?"
        cls = str(obj.get("type") or typename).rsplit(".", 1)[-1]
        node: dict[str, Any] = {"cls": cls, "typeid": str(typename),
                                "id": obj.get("identifier") if isinstance(obj.get("identifier"), str) else None,
                                "id_error": None, "task": obj.get("task") == obj.get("id")}
        oid = obj.get("id")
        if oid in path:
            node["cycle"] = True
            return node
        if oid in self.seen:
            node["shared"] = True
            return node
        self.seen.add(oid)
        producer = self.by_id.get(obj.get("task"))
        if producer is not None and producer is not obj:
            node["output_of"] = str(producer.get("type") or "?").rsplit(".", 1)[-1]
        fields = obj.get("fields") if isinstance(obj.get("fields"), dict) else {}
        node["fields"] = [self.field(name, value, (*path, oid)) for name, value in fields.items()]
        return node

    def value(self, value: Any, path: tuple) -> dict:
        ref = _ref(value)
        if ref is not None and ref in self.by_id:
            return {"config": self.node(self.by_id[ref], path)}
        if isinstance(value, dict) and value.get("type") == "path":
            return {"value": str(value.get("value"))}
        return {"value": _short(value)}

    def field(self, name: str, value: Any, path: tuple) -> dict:
        node: dict[str, Any] = {"name": str(name), "kind": "param", "tag": name in self.tags,
                                "set": True, "in_id": True, "why_not": None}
        ref = _ref(value)
        if ref is not None and ref in self.by_id:
            node["type"] = str(self.by_id[ref].get("type") or "config").rsplit(".", 1)[-1]
        else:
            node["type"] = _kind_name(value)
        if isinstance(value, (list, dict)) and not (isinstance(value, dict) and "type" in value) and any(
                _ref(v) is not None for v in (value.values() if isinstance(value, dict) else value)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            node["items"] = [{"key": str(k), **self.value(v, path)} for k, v in items]
            node["value"] = f"{type(value).__name__} of {len(value)}"
        else:
            node.update(self.value(value, path))
        return node


def params_tree(job: PastJob) -> dict:
    """The configuration tree of a past job (``widgets/config_tree.py``'s format), from its
    ``params.json``; ``{}`` when the file is missing or unreadable."""
    objects = job.params.get("objects")
    if not isinstance(objects, list) or not objects or not isinstance(objects[-1], dict):
        return {}
    tree = _TreeBuilder(objects, job.tags).node(objects[-1])
    tree["tags"] = {str(k): v if type(v) in (str, int, float, bool) or v is None else repr(v)
                    for k, v in job.tags.items()}
    return tree


def _flatten(node: dict, prefix: str, out: dict) -> None:
    for f in node.get("fields", []):
        path = f"{prefix}.{f['name']}" if prefix else f["name"]
        if "config" in f:
            out[path] = f"<{f['config']['cls']}>"
            _flatten(f["config"], path, out)
        elif "items" in f:
            out[path] = f.get("value", "")
            for item in f["items"]:
                item_path = f"{path}[{item['key']}]"
                if "config" in item:
                    out[item_path] = f"<{item['config']['cls']}>"
                    _flatten(item["config"], item_path, out)
                else:
                    out[item_path] = item.get("value", "")
        else:
            out[path] = f.get("value", "")


def compare_trees(jobs: list[PastJob]) -> dict:
    """What differs between past jobs' configurations (``widgets/compare.py``'s reply)."""
    flat = []
    for job in jobs:
        out: dict[str, str] = {}
        _flatten(params_tree(job), "", out)
        flat.append(out)
    paths = list(dict.fromkeys(p for f in flat for p in f))
    fields = [{"path": p, "values": [f.get(p) for f in flat]} for p in paths
              if any(f.get(p) != flat[0].get(p) for f in flat[1:])]
    return {"fields": fields, "same": len(paths) - len(fields), "total": len(paths)}

