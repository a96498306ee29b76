"""Reading job folders for result frames: state, times, progress and metrics.

Designed for 100,000 jobs. A done job (the ``.done`` marker: the first rule
of :func:`~xpm_nb.scheduler.jobs.read_disk_state`; other jobs go through
``read_disk_state`` itself) whose event file ends with its final state no
longer changes: its summary is kept, in this process and on disk
(:mod:`diskcache`), under the marker's modification time, so a rebuild costs
one ``stat`` per finished job. Its event file is read once, in bulk
(:mod:`eventscan`, split between processes for a large first scan). Event
files of other jobs are append-only, so each is cached with the offset read
so far: a rebuild reads only the new lines of running jobs. A job without
an event file (queued, or finished without logging) is kept under the
``stat`` of its folder, markers and files (:func:`_quiet_key`): a queued job
has no folder until it starts, so a rebuild costs one ``stat`` for it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..layout import DONE_SUFFIX, EVENTS_FILE, JobPaths, status_times
from ..scheduler.jobs import JobState
from . import diskcache, safeio
from .eventscan import (
    BadFile,
    EventState,
    _is_number,
    read_from,
    scan_parts,
    state_from,
    state_tuple,
)
from .sources import JobRecord, parse_lines

__all__ = ["JobSummary", "summarize", "summarize_all", "read_history", "clear_caches"]

EVENTS = "/" + EVENTS_FILE  # appended to a job folder's path
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


# Job folder -> what was read of its event file (jobs not complete, and jobs
# read through summarize()).
_events_cache: dict[str, EventState] = {}
# Job folder -> (.done token, summary, entry) of a finished job whose event file
# is complete: valid while the marker keeps that modification time. The entry,
# ``(token, *state_tuple(events))``, is what the disk cache keeps; the summary is
# None for an entry read from the disk cache and not used yet in this process.
_done: dict[str, tuple[int, JobSummary | None, tuple]] = {}
# Job folder -> (.failed token, summary) of a failed job whose event file is
# complete (a new run removes the marker first).
_failed: dict[str, tuple[int, JobSummary]] = {}
# Job folder -> (key, summary) of a job without event file nor live process
# (queued, or finished without logging): valid while _quiet_key() gives that key.
_quiet: dict[str, tuple[tuple, JobSummary]] = {}
# WS/jobs folder -> "<task id>/<job id>" -> entry: what the disk cache gets.
_by_dir: dict[str, dict[str, tuple]] = {}
_newly_complete = 0  # summaries completed since the disk cache was last written


def clear_caches() -> None:
    """Forget every summary read in this process (the disk cache is read again)."""
    from . import sources, taskresults

    _events_cache.clear()
    _done.clear()
    _failed.clear()
    _quiet.clear()
    _by_dir.clear()
    sources._jsonl_cache.clear()
    sources._runs_cache.clear()
    taskresults._cache.clear()
    diskcache.forget()


def _complete(path: str, token: int, events: EventState, marker_time: float) -> JobSummary:
    """Keep the summary of a done job whose event file is complete."""
    events.complete_for = token
    return _keep_done(path, (token, *state_tuple(events)), marker_time)


def _keep_done(path: str, entry: tuple, marker_time: float) -> JobSummary:
    """Keep a done job's entry ``(token, *state_tuple)``, for the disk cache too."""
    global _newly_complete
    summary = _from_entry(path, entry, marker_time)
    jobs_dir, task_id, job_id = path.rsplit("/", 2)
    _by_dir.setdefault(jobs_dir, {})[f"{task_id}/{job_id}"] = entry
    _newly_complete += 1
    return summary


def summarize_all(records: list[JobRecord], with_events: bool = True) -> list[JobSummary]:
    """:func:`summarize` for each record, with the caches of finished jobs."""
    global _newly_complete
    if not with_events:
        return [summarize(r, False) for r in records]
    jobs_dirs = {r.path.rsplit("/", 2)[0] for r in records}
    for jobs_dir in jobs_dirs:
        entries = diskcache.load(jobs_dir)
        if entries:
            for key, entry in entries.items():
                _done.setdefault(f"{jobs_dir}/{key}", (entry[0], None, entry))
            _by_dir[jobs_dir] = {**entries, **_by_dir.get(jobs_dir, {})}
    summaries: list[JobSummary | None] = []
    unread: list[int] = []  # jobs of which nothing is known yet: scanned in bulk
    append, stat, done = summaries.append, os.stat, _done
    for n, record in enumerate(records):
        path = record.path
        if record.job is not None:  # a job of this process: its Job completes the row
            append(summarize(record, True))
            continue
        known = done.get(path)
        if known is None and path not in _events_cache:
            quiet = _quiet.get(path)
            if quiet is not None:
                if quiet[0] == _quiet_key(record):
                    append(quiet[1])
                    continue
                del _quiet[path]  # started, ended or changed: read it again
            unread.append(n)
            append(None)
            continue
        # The common case: a done job whose summary is complete (one stat).
        try:
            st = stat(record.marker)
        except OSError:
            append(_not_done(record))
            continue
        if known is not None and known[0] == st.st_mtime_ns:
            summary = known[1]
            if summary is None:  # from the disk cache: used for the first time here
                summary = _from_entry(path, known[2], st.st_mtime)
            append(summary)
        else:
            append(summarize(record, True, st))
    if unread:
        _scan(records, unread, summaries)
    if _newly_complete:
        _newly_complete = 0
        if diskcache.cache_dir() is not None:
            _store(jobs_dirs)
    return summaries  # type: ignore[return-value]


def _not_done(record: JobRecord) -> JobSummary:
    """:func:`summarize` for a job without ``.done``; a failed job's is kept."""
    if not record.marker.endswith(DONE_SUFFIX):
        return summarize(record, True)
    failed = record.paths.failed
    try:
        token = os.stat(failed).st_mtime_ns  # taken before reading: a later change shows
    except OSError:
        return summarize(record, True)
    kept = _failed.get(record.path)
    if kept is not None and kept[0] == token:
        return kept[1]
    notes = safeio.notes_count()
    summary = summarize(record, True)
    events = _events_cache.get(record.path)
    if (summary.state == "error" and events is not None and events.final
            and safeio.notes_count() == notes):
        _failed[record.path] = (token, summary)
    return summary


def _from_entry(path: str, entry: tuple, marker_time: float) -> JobSummary:
    """The summary of a done job from its entry ``(token, *state_tuple)``, kept."""
    token, _inode, _offset, started, ended, _final, _progress, metrics, step = entry
    summary = JobSummary("done", None, started, ended or marker_time, 1.0, metrics, step,
                         token)
    _done[path] = (token, summary, entry)
    return summary


def _scan(records: list[JobRecord], unread: list[int], summaries: list) -> None:
    """Jobs never read: markers and event files read in bulk (in parallel if many)."""
    jobs = [(records[n].path, records[n].marker.rsplit("/", 1)[1]) for n in unread]
    for start, part in scan_parts(jobs):  # this process's part first, then the helpers'
        for n, result in zip(unread[start:start + len(part)], part):
            summaries[n] = _summary_of(records[n], result)


def _summary_of(record: JobRecord, result: tuple | None) -> JobSummary:
    """The summary of a job from its answer of :func:`eventscan.scan_jobs`."""
    if result is None or result[2] is None:  # not done, or done without event file
        return _without_events(record, result is None)
    token, marker_time, values = result
    if type(values) is str:  # its event file is bad input: noted, the row without it
        safeio.note(f"{values}: not read. {safeio.FIX}")
        return summarize(record, False)
    if type(values) is tuple:  # from a helper process
        if values[4]:  # final: see state_tuple()
            return _keep_done(record.path, (token, *values), marker_time)
        events = state_from(values)
    else:
        events = values
    if events.final:
        return _complete(record.path, token, events, marker_time)
    # Done, but its event file may still grow (a job writing its last lines).
    _events_cache[record.path] = events
    return summarize(record, True)


def _without_events(record: JobRecord, not_done: bool) -> JobSummary:
    """The summary of a job the scan found without ``.done`` or without event file;
    kept in ``_quiet`` if it has no event file and no process that may end."""
    path = record.path
    key = _quiet_key(record)  # taken before reading: a change after it shows
    notes = safeio.notes_count()
    summary = _not_done(record) if not_done else summarize(record, True)
    if safeio.notes_count() != notes:
        return summary  # bad input: read (and reported) again next time
    # A .pid file (a process that may end unseen) is looked for only in a folder
    # that existed at the key: one made since then changes the key anyway.
    if (key is not None and path not in _events_cache and path not in _done
            and (len(key) == 1 or not os.path.exists(record.paths.pid))):
        _quiet[path] = (key, summary)
    return summary


# A file changed within this many ns of a stat may change again with the same
# mtime (coarse file system clocks): such a job is not kept in _quiet.
_SETTLE_NS = 2_000_000_000


def _quiet_key(record: JobRecord) -> tuple | None:
    """What changes when a job without event file starts, logs or ends: the
    ``stat`` of its folder (no folder: a queued job), and then of its markers,
    event file and ``status.json``. None: too recent to be trusted."""
    path = record.path
    try:
        folder = os.stat(path)
    except FileNotFoundError:
        return (record.run_state,)  # one stat: the folder is made when the job starts
    except OSError:
        return None
    done = _mtime(record.marker)
    # Markers and files are created in the folder (a new mtime), but may be
    # rewritten in place: their own mtimes are part of the key.
    paths = record.paths
    key = (record.run_state, folder.st_ino, folder.st_mtime_ns, done,
           _mtime(paths.failed) if done is None else None,
           _mtime(path + EVENTS), _mtime(paths.status))
    recent = time.time_ns() - _SETTLE_NS
    if any(t is not None and t > recent for t in key[2:]):
        return None
    return key


def _mtime(file: str) -> int | None:
    try:
        return os.stat(file).st_mtime_ns
    except OSError:
        return None


def _store(jobs_dirs: set[str]) -> None:
    for jobs_dir in jobs_dirs:
        entries = _by_dir.get(jobs_dir)
        if entries:
            diskcache.save(jobs_dir, entries)


def _events(path: str, done_token: int | None, marker_time: float | None) -> EventState | None:
    """The event summary of a job (folder ``path``), reading only what was appended
    since last time."""
    file = path + EVENTS
    entry = _events_cache.get(path)
    if entry is not None and entry.complete_for is not None:
        if entry.complete_for == done_token:
            return entry  # a finished job: its file no longer changes
        entry = None  # it finished under another .done marker: read it all again
    if entry is None:
        known = _done.get(path)
        if known is not None and known[0] == done_token:  # complete, kept
            entry = state_from(known[2][1:])
            entry.complete_for = done_token
            _events_cache[path] = entry
            return entry
    if entry is not None:
        try:
            st = os.stat(file)
        except OSError:
            del _events_cache[path]
            return None
        if entry.inode is None:
            entry.inode = st.st_ino  # first stat since the first read
        if st.st_ino != entry.inode or st.st_size < entry.offset:
            entry = None  # replaced or truncated: read it again
        elif st.st_size == entry.offset:
            if done_token is not None and entry.final:
                _complete(path, done_token, entry, marker_time)
            return entry
    try:
        blob = read_from(file, entry.offset if entry is not None else 0)
    except BadFile as exc:
        safeio.bad(file, exc)
        _events_cache.pop(path, None)
        return None
    except OSError:
        _events_cache.pop(path, None)
        return None
    if entry is None:
        entry = _events_cache[path] = EventState(None)
    entry.feed_blob(blob)
    if done_token is not None and entry.final:
        _complete(path, done_token, entry, marker_time)
    return entry


def _status_times(paths: JobPaths) -> tuple[float | None, float | None]:
    """Start and end times of the job's ``status.json`` (jobs without events)."""
    data = safeio.read_json(paths.status)
    return status_times(data if isinstance(data, dict) else {})


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
        state, info = safeio.disk_state(record.paths)
        marker_time = None
    summary = JobSummary(_state_name(record, state), marker_token=done_token)
    if state is JobState.ERROR:
        summary.failure = info.get("reason")
    elif summary.state == "error" and record.job is not None:
        summary.failure = record.job.failure_reason
    job = record.job
    if with_events:
        events = _events(path, done_token, marker_time)
        if events is not None:
            summary.started, summary.progress = events.started, events.progress
            summary.metrics, summary.step = events.metrics, events.step
            if events.final or state in (JobState.DONE, JobState.ERROR):
                summary.ended = events.ended
        elif state is not None:
            summary.started, summary.ended = _status_times(record.paths)
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
    """Every metric value of a job: ``(step, timestamp, metric, value, attempt)`` rows.

    Attempts are told apart by the "running" state event each run of the job
    process writes first (1 for values before any, as in files that have none).
    """
    try:
        blob = read_from(record.path + EVENTS, 0)
    except BadFile as exc:
        safeio.bad(record.path + EVENTS, exc)
        return []
    except OSError:
        return []
    end = blob.rfind(b"\n")
    rows = []
    attempt = 0
    for event in parse_lines(blob[:end] if end >= 0 else b""):
        kind = event.get("event_type")
        if kind == "JobStateChangedEvent" and event.get("state") == "running":
            attempt += 1
        if kind != "JobMetricsEvent":
            continue
        values = event.get("metrics")
        if isinstance(values, dict):
            step, ts = event.get("step"), event.get("timestamp")
            step = step if _is_number(step) and type(step) is int else None
            ts = ts if _is_number(ts) else None
            rows.extend((step, ts, name, value, max(attempt, 1))
                        for name, value in values.items() if _is_number(value))
    return rows
