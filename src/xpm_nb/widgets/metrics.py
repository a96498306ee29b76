"""Metrics of jobs for the views: last values (job table) and curves (``MetricsView``).

Live values come from the scheduler's follower (:class:`~xpm_nb.scheduler.follow.MetricsLog`
on each followed job). Two things it cannot give are read here from the job
folders, through the job's connector (off the loop, like every folder read):

- :class:`DiskFill`: the last values of finished jobs nobody followed (found
  done on disk, from an earlier run), read once in the background;
- :func:`read_history`: every point of a job's metrics, when a chart view
  opens (the follower keeps no history in memory).

:class:`CurveState` holds the curves of a chart view and turns new points into
patches (only the points added since the last patch); :class:`CurveFeed` keeps
one current (``MetricsView``, and the experiment view's curves panel).
Imports no widget library.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from array import array
from typing import Any

from ..errors import InvalidArgumentError
from ..scheduler.follow import BadEvent, FileTail, check_metrics, is_metric_record, metrics_log
from .jobkeys import JobKeys

__all__ = ["DiskFill", "CurveState", "CurveFeed", "read_history", "MAX_POINTS", "transient_objects"]

# Points kept (and sent) per curve; beyond, every other point is dropped. A chart is
# about 300 pixels wide; 2,000 curves of this many points are 16 MB of arrays here.
MAX_POINTS = 500


def _records(job) -> list[dict]:
    """The metric and "running" records of ``job``'s event file (blocking)."""
    try:
        return [r for r in FileTail(job.paths.events, job.connector).read() if is_metric_record(r)]
    except OSError:
        return []


def _followed(job) -> bool:
    """True when a follower applied some of the job's records (a chart's watcher alone makes an empty log)."""
    log = job.__dict__.get("metrics_log")
    return log is not None and log.read > 0


class DiskFill:
    """Reads, once, the metrics of finished jobs that no follower read, then calls ``done(jobs)``."""

    def __init__(self, done):
        self.done = done
        self._seen: set[int] = set()
        self._pending: list = []
        self._lock = threading.Lock()
        self._running = False

    def consider(self, job, loop) -> None:
        """Queue ``job`` if it is finished and has no metrics yet (cheap: called by listeners)."""
        if not job.state.finished or _followed(job) or id(job) in self._seen:
            return
        with self._lock:
            self._seen.add(id(job))
            self._pending.append(job)
            if self._running or loop is None or loop.is_closed() or not loop.is_running():
                return
            self._running = True
        loop.call_soon_threadsafe(lambda: loop.create_task(self._run()))

    async def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    jobs, self._pending = self._pending, []
                    if not jobs:
                        self._running = False
                        return
                filled = []
                for job in jobs:
                    records = await job.connector.call(_records, job)
                    if _followed(job):
                        continue  # a follower got there first (a resubmitted job)
                    log = metrics_log(job)
                    for nth, record in enumerate(records):
                        try:
                            log.apply(job, record, nth)
                        except BadEvent:
                            continue
                    filled.append(job)
                if filled:
                    self.done(filled)
        except Exception:  # noqa: BLE001 - a view's background read must never surface
            with self._lock:
                self._running = False


# --- curves --------------------------------------------------------------------


def _int64(step) -> bool:
    """A step that an x array holds (None, or a step beyond int64, is replaced by a count)."""
    return step is not None and -(1 << 63) <= step < (1 << 63)


def _extremes(ys) -> list[float] | None:
    finite = [y for y in ys if math.isfinite(y)]
    return [min(finite), max(finite)] if finite else None


def read_history(job) -> tuple[int, float, dict[str, tuple[list, list]], dict[str, list[float]]]:
    """``(attempt, last timestamp, {metric: (xs, ys)}, {metric: [min, max]})`` of the job's
    last attempt (blocking).

    x is the step, or the number of the event in the attempt when there is none. The
    extremes are those of every point, before the curves are thinned (a best value is
    exact however long the run).
    """
    attempt, last_ts, curves, n = 0, 0.0, {}, 0
    for record in _records(job):
        if record.get("event_type") != "JobMetricsEvent":
            attempt, curves, n = attempt + 1, {}, 0
            ts = record.get("timestamp")
            last_ts = ts if isinstance(ts, (int, float)) else last_ts
            continue
        try:
            step, ts, values = check_metrics(record)
        except BadEvent:
            continue
        x = step if _int64(step) else n
        n += 1
        last_ts = ts if ts is not None else last_ts
        for name, value in values.items():
            xs, ys = curves.setdefault(name, ([], []))
            xs.append(x)
            ys.append(value)
    extremes = {m: e for m, (_, ys) in curves.items() if (e := _extremes(ys)) is not None}
    for xs, ys in curves.values():
        while len(xs) > MAX_POINTS:
            del xs[-2::-2], ys[-2::-2]  # the last point kept
    return max(attempt, 1), last_ts, curves, extremes


@contextlib.contextmanager
def transient_objects():
    """No garbage collection while a patch is built and sent (then it is freed at once).

    A patch of a few hundred runs is thousands of small lists alive together: built
    with the collector on, they set off young collections that find them alive and
    promote them to the old generation, whose full passes then come every few seconds,
    each holding the GIL (every thread, the kernel's loop included, stalled) for as
    long as the process's whole heap takes to scan: 40 ms with 80,000 objects on 2
    loaded cores (benchmarks/bench_metrics_widgets.py), more with a notebook's data.
    Freed by their reference counts right after, they cost the collector nothing.
    A collector the user turned off stays off. (Windows of two threads may overlap:
    the first to end turns the collector back on; no harm, the other's patch is small.)
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class _Run:
    """The curves of one job, and what the views were not sent yet."""

    __slots__ = ("attempt", "last_ts", "curves", "extremes", "n", "new", "reset", "waiting")

    def __init__(self, attempt: int = 1, last_ts: float = 0.0, curves=None, extremes=None):
        # Events that come while the history is read from disk wait here.
        self.waiting: list | None = None
        self.attempt = attempt
        self.last_ts = last_ts
        # Arrays (a third of the memory of lists of floats), copied: they grow here. x is
        # a step, or the number of the event: an integer.
        self.curves: dict[str, tuple[array, array]] = {
            m: (array("q", xs), array("d", ys)) for m, (xs, ys) in (curves or {}).items()}
        self.n = max((len(xs) for xs, _ in self.curves.values()), default=0)
        # Lowest and highest value of each metric over every point (thinning drops some).
        self.extremes: dict[str, list[float]] = {
            m: list(e) for m, e in (extremes or {}).items()}
        for m, (_, ys) in self.curves.items():
            if m not in self.extremes and (e := _extremes(ys)) is not None:
                self.extremes[m] = e
        self.new: dict[str, int] = {}  # metric -> points not sent yet (the last ones)
        self.reset = False  # every curve is sent whole in the next patch


def _without_new(run: _Run) -> dict[str, tuple[array, array]]:
    """The curves of ``run`` as the last patch left them (its new points left out)."""
    held = {}
    for m, (xs, ys) in run.curves.items():
        n = len(xs) - run.new.get(m, 0)
        if n > 0:
            held[m] = (xs[:n], ys[:n])
    return held


class CurveState(JobKeys):
    """The curves of a set of jobs (the last attempt of each), for a chart view.

    Events come from the followers (scheduler's thread); snapshots are read
    from the kernel's: one lock. ``add_event`` ignores an event already in the
    history read from disk (same attempt, not later).
    """

    def __init__(self):
        super().__init__()
        self.seq = 0
        self._runs: list[_Run] = []
        self._sent_info: dict[int, dict] = {}
        self.metric_names: list[str] = []
        self._sent_metric_names: list[str] = []

    def _added(self, job) -> None:
        """A new job (:meth:`add`): its events wait until :meth:`set_history`."""
        run = _Run(0, 0.0)
        run.waiting = []
        self._runs.append(run)

    def set_history(self, job, history: tuple) -> None:
        """The job's curves as read from disk (:func:`read_history`), then the events
        that came meanwhile and are not in it."""
        key = self.key(job)
        if key is None:
            return
        with self.lock:
            waiting = self._runs[key].waiting or []
            run = self._runs[key] = _Run(*history)
            run.reset = True
            for name in run.curves:
                self._note(name)
            for event in waiting:
                self.add_event(job, *event)
            self._dirty.add(key)

    def _note(self, name: str) -> None:
        if name not in self.metric_names:
            self.metric_names.append(name)

    def add_event(self, job, attempt: int, step, timestamp, values) -> bool:
        """A followed event (see ``MetricsLog.watchers``); False if ignored."""
        key = self.key(job)
        if key is None:
            return False
        with self.lock:
            run = self._runs[key]
            ts = timestamp if timestamp is not None else time.time()
            if run.waiting is not None:
                run.waiting.append((attempt, step, ts, values))
                return True
            if (attempt, ts) <= (run.attempt, run.last_ts):
                return False  # in the history read from disk already
            if attempt > run.attempt:  # a new attempt: its curves start over
                self._runs[key] = run = _Run(attempt, ts)
                run.reset = True
            run.last_ts = ts
            if values:
                self._append(run, step, values)
            self._dirty.add(key)
            return True

    def _append(self, run: _Run, step, values: dict) -> None:
        x = step if _int64(step) else run.n
        run.n += 1
        for name, value in values.items():
            xs, ys = run.curves.get(name) or run.curves.setdefault(name, (array("q"), array("d")))
            xs.append(x)
            ys.append(value)
            self._note(name)
            if math.isfinite(value):
                e = run.extremes.get(name)
                if e is None:
                    run.extremes[name] = [value, value]
                elif value < e[0]:
                    e[0] = value
                elif value > e[1]:
                    e[1] = value
            if len(xs) > MAX_POINTS:  # thinned: the view gets the whole curve again
                del xs[-2::-2], ys[-2::-2]  # the last point kept
                run.reset = True
            else:
                run.new[name] = run.new.get(name, 0) + 1

    # --- messages --------------------------------------------------------------

    def _info(self, key: int) -> dict:
        job = self.jobs[key]
        return {"k": key, "id": job.identifier, "name": job.config.__xpmtype__.cls.__qualname__,
                "state": job.state._value_, "attempt": self._runs[key].attempt,
                "tags": {str(k): v if type(v) in (str, int, float, bool, type(None)) else repr(v)
                         for k, v in job.tags.items()}}

    def snapshot(self, unsent: bool = True) -> dict:
        """Every run and curve: ``{type, runs, curves: {k: {metric: [xs, ys]}},
        extremes: {k: {metric: [min, max]}}, metric_names, seq}``. Only reads.

        ``unsent=False``: without the points the next patch appends, so that a view
        starting from it while other views keep their copy (no :meth:`baseline`)
        gets each point once (a curve the next patch sends whole is in it whole).
        """
        with self.lock:
            runs = [self._info(k) for k in range(len(self.jobs))]
            curves = {}
            for k, run in enumerate(self._runs):
                held = run.curves if unsent or run.reset else _without_new(run)
                if held:
                    curves[str(k)] = {m: [xs.tolist(), ys.tolist()] for m, (xs, ys) in held.items()}
            extremes = {str(k): {m: list(e) for m, e in run.extremes.items()}
                        for k, run in enumerate(self._runs) if run.extremes}
            return {"type": "snapshot", "runs": runs, "curves": curves, "extremes": extremes,
                    "metric_names": list(self.metric_names), "seq": self.seq}

    def values(self, metric: str, best: str = "last") -> dict[int, float]:
        """``{key: value}`` of ``metric`` per run: its last value, or its lowest
        (``best="min"``) or highest (``"max"``) over every point; runs without one left out."""
        if best not in ("last", "min", "max"):
            msg = f"best={best!r}: expected 'last', 'min' or 'max' (the run's last, lowest or highest value)"
            raise InvalidArgumentError(msg)
        out = {}
        with self.lock:
            for k, run in enumerate(self._runs):
                if best == "last":
                    curve = run.curves.get(metric)
                    value = curve[1][-1] if curve is not None and len(curve[1]) else None
                else:
                    e = run.extremes.get(metric)
                    value = None if e is None else e[0 if best == "min" else 1]
                if value is not None and math.isfinite(value):
                    out[k] = value
        return out

    def baseline(self) -> None:
        """The next patch holds only what changes after a snapshot made now."""
        with self.lock:
            for k, run in enumerate(self._runs):
                run.new, run.reset = {}, False
                self._sent_info[k] = self._info(k)
            self._dirty.clear()
            self._sent_metric_names = list(self.metric_names)

    def snapshot_for_view(self) -> dict:
        """:meth:`snapshot` and :meth:`baseline` at once: what every view of the
        stream of patches starts from (again).

        A view appends a patch's points to what it holds: a point in the snapshot
        must not come again in the next patch (numbered after the snapshot, the
        view applies it). For a message every view gets (a widget's custom
        messages; a page's own stream on the monitoring server); a snapshot that
        may reach one view only takes ``snapshot(unsent=False)``.
        """
        with self.lock:
            snapshot = self.snapshot()
            self.baseline()
            return snapshot

    def patch(self) -> dict | None:
        """New points since the last patch (``append``), whole curves (``set``), changed runs."""
        with self.lock:
            dirty = self._take_dirty()
            runs, append, whole, extremes = [], {}, {}, {}
            for k in sorted(dirty):
                run = self._runs[k]
                info = self._info(k)
                if self._sent_info.get(k) != info:
                    self._sent_info[k] = info
                    runs.append(info)
                if run.reset:
                    whole[str(k)] = {m: [xs.tolist(), ys.tolist()] for m, (xs, ys) in run.curves.items()}
                    # A whole curve may be thinned: its exact extremes come with it (a view
                    # folds appended points into them itself).
                    extremes[str(k)] = {m: list(e) for m, e in run.extremes.items()}
                elif run.new:
                    append[str(k)] = {m: [run.curves[m][0][-n:].tolist(),
                                          run.curves[m][1][-n:].tolist()]
                                      for m, n in run.new.items()}
                run.new, run.reset = {}, False
            message: dict[str, Any] = {"type": "patch"}
            if runs:
                message["runs"] = runs
            if append:
                message["append"] = append
            if whole:
                message["set"] = whole
                message["extremes"] = extremes
            if self.metric_names != self._sent_metric_names:
                self._sent_metric_names = list(self.metric_names)
                message["metric_names"] = list(self.metric_names)
            if len(message) == 1:
                return None
            self.seq += 1
            message["seq"] = self.seq
            return message



class CurveFeed:
    """The curves of a set of jobs, kept current: what a chart view's widget needs.

    Watches each job's :class:`~xpm_nb.scheduler.follow.MetricsLog` (events
    reach :attr:`state` on the scheduler's thread), reads each history from
    disk (the jobs given: now, on the caller's thread; jobs added later: on
    their host's worker thread) and calls ``mark()`` when a flush is due.
    ``loop()`` gives the scheduler's loop.
    """

    def __init__(self, jobs, mark, loop):
        self.state = CurveState()
        self._mark = mark
        self._loop = loop
        self._watched: list = []
        for job in jobs:
            self.watch(job)
        for job in jobs:  # after the watchers: an event read meanwhile waits, then merges
            self.state.set_history(job, read_history(job))
        self.state.baseline()

    @property
    def jobs(self) -> list:
        return list(self.state.jobs)

    def tag_names(self) -> list[str]:
        names: dict[str, None] = {}
        for job in self.state.jobs:
            names.update(dict.fromkeys(map(str, job.tags)))
        return list(names)

    def watch(self, job) -> None:
        self.state.add(job)
        log = metrics_log(job)
        log.watchers.append(self._on_metrics)
        self._watched.append(log)

    def _on_metrics(self, job, attempt, step, timestamp, values) -> None:
        if self.state.add_event(job, attempt, step, timestamp, values):
            self._mark()

    def job_changed(self, job, add: bool) -> None:
        """A scheduler listener's call: a known job changed, or (``add``) a new one came."""
        if self.state.key(job) is None:
            if not add:
                return
            self.watch(job)
            self._read_later(job)
        self.state.mark(job)
        self._mark()

    def _read_later(self, job) -> None:
        """A job that joined later: its history (if any) read on its host's worker thread."""
        loop = self._loop()

        async def read():
            try:
                history = await job.connector.call(read_history, job)
            except Exception:  # noqa: BLE001 - no history: the live points only
                history = (1, 0.0, {})
            self.state.set_history(job, history)
            self._mark()

        if loop is not None and loop.is_running():
            loop.create_task(read())  # listeners run on the loop's thread
        else:
            self.state.set_history(job, read_history(job))

    def close(self) -> None:
        for log in self._watched:
            try:
                log.watchers.remove(self._on_metrics)
            except ValueError:
                pass
        self._watched = []
