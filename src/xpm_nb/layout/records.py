"""The small records of a workspace: markers, ``jobs.jsonl``, ``status.json``.

Parsers take the bytes a caller read (through a connector, or as untrusted
input with ``results/safeio.py``) and never raise on a damaged record: each
says what a damaged one gives. Writers give the text to write; callers write
it atomically (temp file, then rename: ``connector.write_atomic``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from .paths import JobPaths, safe_name
from .pidfile import parse_pid_file

try:  # optional: jobs.jsonl of 100,000 jobs is parsed several times faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

__all__ = ["DONE", "ERROR", "RUNNING", "failed_content", "parse_failed", "folder_state",
           "RunJob", "jobs_line", "parse_jobs_lines", "JOBS_JSONL_RULE", "parse_json_object",
           "parse_seconds", "parse_time", "status_times", "status_retry_count",
           "run_job_states"]

DONE, ERROR, RUNNING = "done", "error", "running"  # the values of JobState


# --- markers: <name>.done (empty), <name>.failed ({"code", "reason"}) ---------


def failed_content(code: int | None, reason: str | None) -> str:
    return json.dumps({"code": code, "reason": reason})


def parse_failed(data: bytes | None, why: str | None = None) -> dict:
    """What a ``.failed`` marker says: ``{"code", "reason"}`` (either may be missing).

    ``data`` None: the file is there but could not be read (``why``, if known).
    A marker that is not JSON gives a reason saying so; a reason that is not a
    string is given as its JSON text.
    """
    if data is None:
        return {"reason": f"failed (unreadable .failed file: it {why})" if why
                else "failed (unreadable .failed file)"}
    try:
        info = json.loads(data or b"{}")
    except (ValueError, RecursionError):
        return {"reason": "failed (unreadable .failed file)"}
    if not isinstance(info, dict):
        return {"code": info}
    reason = info.get("reason")
    if reason is not None and not isinstance(reason, str):
        info["reason"] = json.dumps(reason, default=str)[:1000]
    return info


def folder_state(paths: JobPaths, exists: Callable, read: Callable,
                 live: Callable[[dict], int | None]) -> tuple[str | None, dict]:
    """The state a job folder says: DONE, ERROR (with the ``.failed`` record),
    RUNNING (with the pid file, its process live) or None (``{"stale_pid": pid}``
    for a pid file whose process is gone).

    The one reading of the markers, whatever reads the files: ``exists(path)``,
    ``read(path)`` (bytes, None when missing, OSError when unreadable: an
    ``OSError`` with ``what`` says why), ``live(pid info)`` (the pid if it runs).
    """
    if exists(paths.done):
        return DONE, {}
    try:
        data = read(paths.failed)
    except OSError as exc:  # there, but unreadable (a folder, a FIFO, no permission)
        return ERROR, parse_failed(None, getattr(exc, "what", None))
    if data is not None:
        return ERROR, parse_failed(data)
    try:
        info = parse_pid_file(read(paths.pid))
    except OSError:
        return None, {}
    if info is None:
        return None, {}
    if live(info) is not None:
        return RUNNING, info
    return None, {"stale_pid": info["pid"]}


# --- a run's jobs.jsonl -------------------------------------------------------

JOBS_JSONL_RULE = """\
A line of jobs.jsonl is read once it ends with a newline (a last line without
one is being written: an incremental reader reads it once complete). A
complete line that is not a JSON object with string "task_id" and "job_id" is
skipped: a corrupt line costs its own job only, never the run. Ids that are not
one folder name (a '/', '..', NUL) are skipped with a note: never followed.
Of several lines for a job, the last one wins."""


@dataclass(slots=True)
class RunJob:
    """One line of a run's ``jobs.jsonl``."""

    task_id: str
    job_id: str
    tags: dict  # as recorded (``{}`` if not an object)
    timestamp: float | None  # seconds; None if not a number


def jobs_line(job_id: str, task_id: str, tags: dict, timestamp: float) -> str:
    """The ``jobs.jsonl`` line of a job (the reference's fields)."""
    record = {"job_id": job_id, "task_id": task_id, "tags": tags, "timestamp": timestamp}
    return json.dumps(record, default=str) + "\n"


def parse_jobs_lines(blob: bytes, source, note: Callable[[str], None] | None = None
                     ) -> tuple[list[RunJob], int]:
    """The jobs of ``blob`` (bytes of ``jobs.jsonl``) by :data:`JOBS_JSONL_RULE`, and
    how many bytes were read (up to the last newline). ``source`` names the file in
    notes; ``note(message)`` is told of ids that are not folder names."""
    end = blob.rfind(b"\n") + 1
    jobs = []
    for line in blob[:end].split(b"\n"):
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except (ValueError, RecursionError):
            continue
        if type(record) is not dict:
            continue
        task_id, job_id = record.get("task_id"), record.get("job_id")
        if type(task_id) is not str or type(job_id) is not str:
            continue
        if not (safe_name(task_id) and safe_name(job_id)):
            if note is not None:
                note(f"{source}: job {task_id!r}/{job_id!r} is not a folder name of the "
                     "workspace (a '/', '..' or NUL): ignored, never followed. "
                     "Fix: remove that line")
            continue
        tags = record.get("tags")
        jobs.append(RunJob(task_id, job_id, tags if type(tags) is dict else {},
                           parse_seconds(record.get("timestamp"))))
    return jobs, end


# --- status.json (a job's, a run's) and its times -----------------------------


def parse_json_object(data) -> dict:
    """A small JSON record (``status.json``...): ``{}`` when missing (None), not JSON,
    or not an object (a damaged record is ignored, never fatal)."""
    if data is None:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_seconds(value) -> float | None:
    """A number of seconds: a float or an int a float64 holds (not a bool), else None."""
    if type(value) is float or (type(value) is int and abs(value) < 1 << 63):
        return float(value)
    return None


def parse_time(value) -> float | None:
    """A time of ``status.json``: seconds (ours) or an ISO string (the reference's)."""
    if isinstance(value, str):
        from datetime import datetime

        try:
            return datetime.fromisoformat(value).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    return parse_seconds(value)


def status_times(status: dict) -> tuple[float | None, float | None]:
    """Start and end of a job's last run as its ``status.json`` records them."""
    return parse_time(status.get("started_time")), parse_time(status.get("ended_time"))


def status_retry_count(status: dict) -> int:
    """The failed runs a job's ``status.json`` counts (ours or the reference's)."""
    count = status.get("retry_count")
    return count if type(count) is int and count >= 0 else 0


def run_job_states(status: dict) -> dict[str, str]:
    """Job id -> state, from a run's ``status.json`` (``job_states``)."""
    states = status.get("job_states")
    if not isinstance(states, dict):
        return {}
    return {k: v for k, v in states.items() if type(v) is str}
