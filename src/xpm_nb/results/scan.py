"""Reading job folders for result frames: state, times, progress and metrics.

Designed for 100,000 jobs: per job, one ``stat`` of the ``.done`` marker
(the first rule of :func:`~xpm_nb.scheduler.jobs.read_disk_state`; other
jobs go through ``read_disk_state`` itself) and one read of the event file.
Event files are append-only, so each one is cached with the offset read so
far: a rebuild reads only the new lines of running jobs, and nothing at all
for a finished job whose summary is complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..scheduler.jobs import JobPaths, JobState, read_disk_state
from . import diskcache
from .sources import JobRecord, parse_lines

__all__ = ["JobSummary", "summarize", "summarize_all", "read_history", "clear_caches"]

EVENTS = "/.experimaestro/events/event-0.jsonl"
FINAL_STATES = ("done", "error")


@dataclass(slots=True)
class JobSummary:
    """What a job folder says, for one row of a frame."""

    state: str
    failure: str | None = None
    started: float | None = None
    ended: float | None = None
    progress: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    step: int | None = None
    marker_token: int | None = None  # mtime (ns) of the .done marker


class _EventState:
    """What has been read of one event file, and from where to go on."""

    __slots__ = ("inode", "offset", "started", "ended", "final", "progress", "metrics",
                 "step", "complete_for")

    def __init__(self, inode: int | None):
        self.inode = inode  # None until a stat after the first read
        self.offset = 0
        self.started: float | None = None
        self.ended: float | None = None
        self.final = False  # a final state event after the last "running" one
        self.progress: float | None = None
        self.metrics: dict[str, float] = {}
        self.step = None
        self.complete_for: int | None = None  # .done token for which nothing more comes

    def feed(self, events: list[dict]) -> None:
        for event in events:
            kind = event.get("event_type")
            if kind == "JobMetricsEvent":
                values = event.get("metrics")
                if isinstance(values, dict):
                    self.metrics.update(values)
                    self.step = event.get("step")
            elif kind == "JobProgressEvent":
                if not event.get("level"):
                    self.progress = event.get("progress")
            elif kind == "JobStateChangedEvent":
                state = event.get("state")
                if state == "running":
                    # A new run (a retry) starts over.
                    self.started, self.ended, self.final = event.get("timestamp"), None, False
                elif state in FINAL_STATES:
                    self.ended, self.final = event.get("timestamp"), True


_events_cache: dict[str, _EventState] = {}
_newly_complete = 0  # summaries completed since the disk cache was last written


def clear_caches() -> None:
    """Forget every summary read in this process (the disk cache is read again)."""
    from . import sources, taskresults

    _events_cache.clear()
    sources._jsonl_cache.clear()
    sources._runs_cache.clear()
    taskresults._cache.clear()
    diskcache.forget()


def _complete(entry: _EventState, done_token: int) -> None:
    global _newly_complete
    if entry.complete_for != done_token:
        entry.complete_for = done_token
        _newly_complete += 1


def summarize_all(records: list[JobRecord], with_events: bool = True) -> list[JobSummary]:
    """:func:`summarize` for each record, with the disk cache of finished jobs."""
    global _newly_complete
    if not with_events:
        return [summarize(r, False) for r in records]
    jobs_dirs = {r.path.rsplit("/", 2)[0] for r in records}
    for jobs_dir in jobs_dirs:
        _restore(jobs_dir, diskcache.load(jobs_dir))
    summaries = []
    append, stat, cache = summaries.append, os.stat, _events_cache
    for record in records:
        # The common case inline: a done job whose summary is complete (one stat).
        try:
            st = stat(record.marker)
        except OSError:
            append(summarize(record, True))
            continue
        entry = cache.get(record.path + EVENTS)
        if entry is not None and entry.complete_for == st.st_mtime_ns and record.job is None:
            append(JobSummary("done", None, entry.started, entry.ended or st.st_mtime, 1.0,
                              entry.metrics, entry.step, entry.complete_for))
        else:
            append(summarize(record, True, st))
    if _newly_complete:
        _newly_complete = 0
        if diskcache.cache_dir() is not None:
            _store(jobs_dirs)
    return summaries


def _restore(jobs_dir: str, entries: dict[str, tuple]) -> None:
    """Entries of the disk cache, keyed ``<task id>/<job id>`` under ``jobs_dir``."""
    for key, (token, inode, offset, started, ended, progress, metrics, step) in (
            entries.items()):
        path = f"{jobs_dir}/{key}{EVENTS}"
        if path not in _events_cache:
            entry = _events_cache[path] = _EventState(inode)
            entry.offset, entry.started, entry.ended = offset, started, ended
            entry.progress, entry.metrics, entry.step = progress, metrics, step
            entry.final, entry.complete_for = True, token


def _store(jobs_dirs: set[str]) -> None:
    grouped: dict[str, dict[str, tuple]] = {d: {} for d in jobs_dirs}
    cut = len(EVENTS)
    for path, e in _events_cache.items():
        if e.complete_for is not None:
            jobs_dir, task_id, job_id = path[:-cut].rsplit("/", 2)
            group = grouped.get(jobs_dir)
            if group is not None:
                group[f"{task_id}/{job_id}"] = (e.complete_for, e.inode, e.offset, e.started,
                                                e.ended, e.progress, e.metrics, e.step)
    for jobs_dir, entries in grouped.items():
        diskcache.save(jobs_dir, entries)


def _read_from(path: str, offset: int) -> bytes:
    """The bytes of a file from ``offset`` to its end."""
    # os.open/os.pread with a first guess of the size: half the cost of open().read()
    # and no fstat, for 100,000 small files.
    fd = os.open(path, os.O_RDONLY)
    try:
        blob = os.pread(fd, _FIRST_READ, offset)
        if len(blob) < _FIRST_READ:
            return blob
        parts = [blob]
        while True:
            offset += len(parts[-1])
            more = os.pread(fd, 1 << 20, offset)
            if not more:
                return b"".join(parts)
            parts.append(more)
    finally:
        os.close(fd)


_FIRST_READ = 16384


def _events(path: str, done_token: int | None) -> _EventState | None:
    """The event summary of a job, reading only what was appended since last time."""
    entry = _events_cache.get(path)
    if entry is not None and entry.complete_for is not None:
        if entry.complete_for == done_token:
            return entry  # a finished job: its file no longer changes
        entry = None  # it finished under another .done marker: read it all again
    if entry is not None:
        try:
            st = os.stat(path)
        except OSError:
            del _events_cache[path]
            return None
        if entry.inode is None:
            entry.inode = st.st_ino  # first stat since the first read
        if st.st_ino != entry.inode or st.st_size < entry.offset:
            entry = None  # replaced or truncated: read it again
        elif st.st_size == entry.offset:
            if done_token is not None and entry.final:
                _complete(entry, done_token)
            return entry
    try:
        blob = _read_from(path, entry.offset if entry is not None else 0)
    except OSError:
        _events_cache.pop(path, None)
        return None
    if entry is None:
        entry = _events_cache[path] = _EventState(None)
    end = blob.rfind(b"\n")
    if end >= 0:  # a torn last line is read next time
        entry.offset += end + 1
        entry.feed(parse_lines(blob[:end]))
    if done_token is not None and entry.final:
        _complete(entry, done_token)
    return entry


def _status_times(path: str) -> tuple[float | None, float | None]:
    """Start and end times of ``.experimaestro/status.json`` (jobs without events)."""
    try:
        data = json.loads(Path(path, ".experimaestro", "status.json").read_bytes())
    except (OSError, ValueError):
        return None, None
    return _time(data.get("started_time")), _time(data.get("ended_time"))


def _time(value) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):  # the reference writes ISO times
        from datetime import datetime

        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def summarize(record: JobRecord, with_events: bool = True, done_stat=None) -> JobSummary:
    """The state (marker files first), times, progress and last metrics of a job.

    ``done_stat``: the ``os.stat`` of the ``.done`` marker, when already taken.
    """
    path = record.path
    done_token = None
    try:
        st = done_stat or os.stat(record.marker)
        state, info = JobState.DONE, {}
        done_token = st.st_mtime_ns
        marker_time = st.st_mtime
    except OSError:
        state, info = read_disk_state(JobPaths(Path(path), record.name))
        marker_time = None
    summary = JobSummary(_state_name(record, state), marker_token=done_token)
    if state is JobState.ERROR:
        summary.failure = info.get("reason")
    elif summary.state == "error" and record.job is not None:
        summary.failure = record.job.failure_reason
    job = record.job
    if with_events:
        events = _events(path + EVENTS, done_token)
        if events is not None:
            summary.started, summary.progress = events.started, events.progress
            summary.metrics, summary.step = events.metrics, events.step
            if events.final or state in (JobState.DONE, JobState.ERROR):
                summary.ended = events.ended
        elif state is not None:
            summary.started, summary.ended = _status_times(path)
    if job is not None:
        summary.started = summary.started or job.started_time
        if summary.state in FINAL_STATES:
            summary.ended = summary.ended or job.ended_time
    if summary.ended is None and marker_time is not None:
        summary.ended = marker_time
    if summary.state == "done":
        summary.progress = 1.0
    return summary


def _state_name(record: JobRecord, state: JobState | None) -> str:
    """Marker files first; then this process's scheduler; then the run's status.json.

    From the run's file only "error" is taken (a job whose dependency failed has
    no marker); "waiting" there may be stale (a scheduler that is gone).
    """
    if state is not None:
        return state.value
    if record.job is not None:
        return record.job.state.value
    if record.run_state == JobState.ERROR.value:
        return record.run_state
    return JobState.UNSCHEDULED.value


def read_history(record: JobRecord) -> list[tuple]:
    """Every metric value of a job: ``(step, timestamp, metric, value)`` rows."""
    try:
        blob = _read_from(record.path + EVENTS, 0)
    except OSError:
        return []
    end = blob.rfind(b"\n")
    rows = []
    for event in parse_lines(blob[:end] if end >= 0 else b""):
        if event.get("event_type") != "JobMetricsEvent":
            continue
        values = event.get("metrics")
        if isinstance(values, dict):
            step, ts = event.get("step"), event.get("timestamp")
            rows.extend((step, ts, name, value) for name, value in values.items())
    return rows
