"""``results()``: a pandas frame of jobs, indexed by their tags.

pandas is imported here, when a frame is built, and nowhere else.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from itertools import chain
from operator import attrgetter, methodcaller
from typing import Any

from ..errors import ResultsError
from . import safeio
from .scan import read_history, summarize, summarize_all
from .sources import JobRecord, records_of
from .taskresults import ResultsWarning, any_to_compute, task_results

__all__ = ["results", "FIXED_COLUMNS", "HISTORY_COLUMNS"]

FIXED_COLUMNS = ("state", "failure", "progress", "duration", "submitted", "started", "ended",
                 "experiment", "task_id", "identifier", "path")
"""The columns of every summary frame, after the metrics and ``results()`` values: what a
reader looks at first (tags as the index, metrics, results) comes first, the bookkeeping
(identifier, path...) last."""

HISTORY_COLUMNS = ("metric", "step", "value", "attempt", "timestamp", "experiment", "task_id",
                   "identifier")
"""The columns of a history frame (one row per job, step and metric)."""

# Columns that need no event file: a frame of only these skips reading them.
_NO_EVENTS = {"experiment", "task_id", "identifier", "state", "failure", "path", "submitted"}
_TIMES = ("submitted", "started", "ended")


def results(source, experiment: str | None = None, *, run: str | None = None,
            columns: Iterable[str] | None = None, metrics: str = "last",
            done_only: bool = False, task_results: bool | None = None,
            attempts: str = "last"):
    """A pandas DataFrame of the jobs of ``source``, indexed by their tags.

    ``source``: an ``experiment`` (its jobs, live), a workspace path (with an
    experiment name, or all experiments' current runs; ``run`` picks another
    run), an experiment or run folder, or a list of submitted tasks / jobs.

    The index has one level per tag name (a missing value where a job has no
    such tag): a MultiIndex, an Index named after the tag when there is one
    tag, a RangeIndex when there is none. Columns, what one reads first
    first: the last value of each metric logged with ``log_metrics``, the
    values of the task's ``results()`` for done jobs, then ``state``,
    ``failure`` (reason of a failed job), ``progress`` (0-1), ``duration``
    (seconds; so far for a running job), ``submitted``, ``started``,
    ``ended`` (times), and the bookkeeping last: ``experiment``, ``task_id``,
    ``identifier``, ``path``.

    ``metrics="history"`` gives instead every logged value, one row per job,
    step and metric (columns ``metric``, ``step``, ``value``, ``attempt``,
    ``timestamp``, then the bookkeeping). ``attempt`` numbers the runs of a
    job (1, 2...: a resubmission, a retry after a timeout); only the last
    attempt's values are kept unless ``attempts="all"``.
    ``columns`` keeps only these columns; ``done_only`` only the done jobs.

    ``task_results``: None (default) runs ``results()`` for the done jobs of
    this process and for those on disk whose task class, imported in this
    process, defines it; their configuration is rebuilt from ``params.json``
    with classes already imported only: nothing is imported and
    ``classes.pkl`` is never unpickled. True runs it for every done job and
    imports the modules ``params.json`` names: it **runs code from the job
    folders: only for workspaces you trust** (``classes.pkl`` is still never
    unpickled: a class defined in a notebook cell must be defined in this
    process). False runs none.

    The workspace's files are read as untrusted input: a file that is not a
    regular file (a FIFO, a device, a symbolic link) or is too large is not
    read; a ``ResultsWarning`` names it, and its job's row lacks what it holds.
    Each call reads the folders again (only what changed since the last call).
    """
    if metrics not in ("last", "history"):
        msg = f"results(): metrics={metrics!r}; expected 'last' or 'history'"
        raise ResultsError(msg)
    if attempts not in ("last", "all"):
        msg = f"results(): attempts={attempts!r}; expected 'last' or 'all'"
        raise ResultsError(msg)
    if isinstance(columns, str):
        columns = [columns]
    wanted = list(columns) if columns is not None else None
    # Building 100,000 rows makes millions of objects, none of them garbage:
    # the cyclic collector's passes over them would cost a third of the time.
    enabled = gc.isenabled()
    gc.disable()
    safeio.take_notes()  # left by another reader: not this call's
    try:
        records = records_of(source, experiment, run)
        if metrics == "history":
            frame = _history_frame(records, wanted, done_only, attempts == "all")
        else:
            frame = _summary_frame(records, wanted, done_only, task_results)
    finally:
        if enabled:
            gc.enable()
    _warn_bad_input(safeio.take_notes())
    return frame


def _warn_bad_input(notes: list[str]) -> None:
    """One warning for the files of the workspace that were not read (bad input)."""
    if not notes:
        return
    import warnings

    shown = "\n".join(f"- {n}" for n in notes[:10])
    more = f"\n(and {len(notes) - 10} more)" if len(notes) > 10 else ""
    warnings.warn(f"results(): {len(notes)} file(s) of the workspace were not read; the rows "
                  f"of their jobs lack what these files hold:\n{shown}{more}", ResultsWarning,
                  stacklevel=3)


# Columns are built with map() over attrgetter/methodcaller: the loops run in
# C, a third of the time of list comprehensions for 100,000 rows.
_get_tags = attrgetter("tags")


def _tag_names(records: list[JobRecord]) -> list[str]:
    return _union(map(_get_tags, records))


def _index(pd, records: list[JobRecord], length_of=None):
    """The tags as index: a MultiIndex, or an Index for one tag, or None for no tag.

    ``length_of``: rows per record, for long frames.
    """
    names = _tag_names(records)
    if not names:
        return None
    arrays = []
    tags = list(map(_get_tags, records))
    for name in names:
        values = list(map(methodcaller("get", name), tags))
        if length_of is not None:
            values = [v for v, n in zip(values, length_of) for _ in range(n)]
        arrays.append(values)
    if len(arrays) == 1:  # as set_index does: df.loc["a"] is then a row
        return pd.Index(arrays[0], name=names[0])
    return pd.MultiIndex.from_arrays(arrays, names=names)


def _times(pd, values: list):
    from datetime import datetime

    local = datetime.now().astimezone().tzinfo
    seconds = pd.Series(values, dtype="float64")
    # Outside the years 1678-2261 (a corrupt file): missing, not an OutOfBoundsDatetime.
    seconds = seconds.where(seconds.abs() < 9.2e9)
    return pd.to_datetime(seconds, unit="s", utc=True).dt.tz_convert(local).array


def _summary_frame(records: list[JobRecord], wanted: list[str] | None, done_only: bool,
                   force_results: bool | None):
    import time

    import pandas as pd

    with_events = wanted is None or any(c not in _NO_EVENTS for c in wanted)
    summaries = summarize_all(records, with_events)
    if done_only:
        kept = [(r, s) for r, s in zip(records, summaries) if s.state == "done"]
        records, summaries = [k[0] for k in kept], [k[1] for k in kept]
    now = time.time()

    def column(items: list, attribute: str) -> list:
        return list(map(attrgetter(attribute), items))

    data: dict[str, Any] = {
        "experiment": column(records, "experiment"),
        "task_id": column(records, "task_id"),
        "identifier": column(records, "job_id"),
        "state": column(summaries, "state"),
        "failure": column(summaries, "failure"),
        "path": column(records, "path"),
        "submitted": column(records, "submitted"),
        "started": column(summaries, "started"),
        "ended": column(summaries, "ended"),
        "duration": None,  # below, from the times
        "progress": column(summaries, "progress"),
    }
    metrics = column(summaries, "metrics")
    for name in _union(metrics):
        data[_free(name, data, "metric")] = list(map(methodcaller("get", name), metrics))
    want_results = force_results is not False and (
        wanted is None or any(c not in data for c in wanted))
    if want_results and (force_results or any_to_compute(None, records)):
        done = [(r, s.marker_token) for r, s in zip(records, summaries) if s.state == "done"]
        values = iter(task_results(done, bool(force_results)))
        rows = [next(values) if s.state == "done" else None for s in summaries]
        for name in _union(row for row in rows if row):
            data[_free(name, data, "result")] = [(row or {}).get(name) for row in rows]
    data["started"], data["ended"] = _seconds(data["started"]), _seconds(data["ended"])
    data["duration"] = _durations(data["started"], data["ended"], data["state"], now)
    for name in _TIMES:
        data[name] = _times(pd, data[name])
    data["progress"] = pd.array(data["progress"], dtype="Float64").astype("float64")
    # Metrics and results first, then FIXED_COLUMNS (the bookkeeping last).
    order = [n for n in data if n not in FIXED_COLUMNS] + list(FIXED_COLUMNS)
    frame = pd.DataFrame({name: data[name] for name in order}, index=_index(pd, records))
    return _select(frame, wanted, records)


def _seconds(values: list):
    """Times as a float array (NaN where missing)."""
    import numpy as np

    return np.array(values, dtype="float64")


def _durations(started, ended, states: list[str], now: float):
    """Seconds from start to end; so far for a running job; NaN without a start."""
    import numpy as np

    running = np.array(states, dtype=object) == "running"
    return np.where(np.isnan(ended), np.where(running, now - started, np.nan),
                    ended - started)


def _union(dicts: Iterable[dict]) -> list[str]:
    """Keys of the dicts, in order of first appearance."""
    return list(dict.fromkeys(chain.from_iterable(dicts)))


def _free(name: str, data: dict, prefix: str) -> str:
    """``name``, or ``<prefix>.<name>`` when a column already has that name."""
    return name if name not in data else f"{prefix}.{name}"


def _select(frame, wanted: list[str] | None, records: list[JobRecord]):
    if wanted is None:
        return frame
    tags = set(_tag_names(records))
    unknown = [c for c in wanted if c not in frame.columns and c not in tags]
    if unknown:
        msg = (
            f"results(): no column {', '.join(map(repr, unknown))}. Columns: "
            f"{', '.join(frame.columns)}" + (f"; tags (index levels): {', '.join(tags)}"
                                            if tags else "")
        )
        raise ResultsError(msg)
    return frame[[c for c in wanted if c in frame.columns]]


def _last_attempt(rows: list[tuple]) -> list[tuple]:
    """The rows of the last attempt that logged anything."""
    if not rows:
        return rows
    last = rows[-1][4]
    return [row for row in rows if row[4] == last]


def _history_frame(records: list[JobRecord], wanted: list[str] | None, done_only: bool,
                   all_attempts: bool):
    import pandas as pd

    if done_only:
        records = [r for r in records if summarize(r, False).state == "done"]
    histories = [read_history(r) for r in records]
    if not all_attempts:
        histories = [_last_attempt(h) for h in histories]
    counts = [len(h) for h in histories]
    rows = [row for h in histories for row in h]
    data = {
        "metric": [row[2] for row in rows],
        "step": pd.array([row[0] for row in rows], dtype="Int64"),
        "value": pd.array([row[3] for row in rows], dtype="Float64").astype("float64"),
        "attempt": pd.array([row[4] for row in rows], dtype="Int64"),
        "timestamp": _times(pd, [row[1] for row in rows]),
        "experiment": [r.experiment for r, n in zip(records, counts) for _ in range(n)],
        "task_id": [r.task_id for r, n in zip(records, counts) for _ in range(n)],
        "identifier": [r.job_id for r, n in zip(records, counts) for _ in range(n)],
    }
    frame = pd.DataFrame(data, index=_index(pd, records, counts))
    return _select(frame, wanted, records)
