"""Following a running job from the notebook: its progress and dynamic outputs.

The job process appends JSON lines to ``.experimaestro/events/event-0.jsonl``
(progress, metrics, state) and ``.experimaestro/task-outputs.jsonl``
(``register_task_output``). A follower reads only the bytes added since its
last read, so following hundreds of jobs costs one ``stat`` per file and poll.
Files are read through the job's connector (one code path for local and
remote folders), on its worker threads when followed from the scheduler's loop
(:meth:`JobFollower.apoll`): a slow disk or a cut SSH link never stalls the loop.
Events are input the job process wrote, never trusted: each record is checked
(types and bounds: a progress level of at most :data:`MAX_LEVEL`, a progress
between 0 and 1, a short description, lines of at most :data:`MAX_LINE`
bytes); a bad one is skipped with one warning per job, and nothing a job
writes there can fail the job or stall the driver.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path

from ..core.outputs import output_value
from ..errors import BadEvent

__all__ = ["FileTail", "JobFollower", "MetricsLog", "metrics_log", "is_metric_record"]

logger = logging.getLogger(__name__)

FOLLOW_INTERVAL = 0.25  # seconds: progress seen in the notebook within this delay
FOLLOW_INTERVAL_REMOTE = 1.0  # the same for a job on a remote host (SFTP round trips)
MAX_LEVEL = 32  # deepest progress level (nested loops) kept; deeper events are skipped
MAX_DESC = 1000  # characters of a progress description kept
MAX_LINE = 64 * 1024  # bytes: a longer event line is skipped (never held in memory)
READ_CHUNK = 4 * 1024 * 1024  # bytes read at once from an event file
MAX_METRICS = 256  # metric values kept of one log_metrics event
MAX_METRIC_NAME = 200  # characters of a metric name


class FileTail:
    """The complete JSON lines appended to a file since the last call."""

    def __init__(self, path: Path, connector=None):
        self.path = path
        self.offset = 0
        self._partial = b""
        self._skipping = False  # inside a line longer than MAX_LINE: dropped to its end
        self.skipped = 0  # lines skipped (too long, not JSON, not an object)
        if connector is None:
            from ..connectors.local import LocalConnector

            connector = LocalConnector.instance()
        self.connector = connector

    def read(self) -> list[dict]:
        """New records (blocking I/O: call it off the event loop)."""
        records: list[dict] = []
        while True:
            data = self.connector.read_range(self.path, self.offset, READ_CHUNK)
            if not data:
                return records
            self.offset += len(data)
            self._lines(data, records)
            if len(data) < READ_CHUNK:
                return records

    def _lines(self, data: bytes, records: list[dict]) -> None:
        lines = data.split(b"\n")
        last = lines.pop()  # an unfinished last line waits for its end
        for i, line in enumerate(lines):
            if i == 0:
                if self._skipping:  # the end of an over-long line
                    self._skipping = False
                    continue
                line = self._partial + line
                self._partial = b""
            self._record(line, records)
        if lines:
            self._partial = b""
        if self._skipping:
            return
        self._partial += last
        if len(self._partial) > MAX_LINE:
            self._partial = b""
            self._skipping = True
            self.skipped += 1

    def _record(self, line: bytes, records: list[dict]) -> None:
        if not line.strip():
            return
        if len(line) > MAX_LINE:
            self.skipped += 1
            return
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            self.skipped += 1  # a torn line is skipped, never fatal
            return
        if isinstance(record, dict):
            records.append(record)
        else:
            self.skipped += 1


def _number(value, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise BadEvent(f"{what} is {value!r}, expected a finite number")
    return float(value)


def check_progress(record: dict) -> dict:
    """The ``job.progress`` entry of a progress event; :class:`BadEvent` if it is bad."""
    level = record.get("level", 0)
    if type(level) is not int or not 0 <= level <= MAX_LEVEL:
        raise BadEvent(f"progress level {level!r:.80}: expected an integer from 0 to {MAX_LEVEL}")
    value = _number(record.get("progress", 0.0), "progress")
    if value < 0:
        raise BadEvent(f"progress {value!r}: expected a number from 0 to 1")
    desc = record.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise BadEvent(f"progress description {type(desc).__name__}: expected a string")
    if desc is not None and len(desc) > MAX_DESC:
        desc = desc[:MAX_DESC] + "…"
    return {"level": level, "progress": min(value, 1.0), "desc": desc}


def check_metrics(record: dict) -> tuple[int | None, float | None, dict[str, float]]:
    """``(step, timestamp, values)`` of a metrics event; :class:`BadEvent` if it is bad."""
    values = record.get("metrics")
    if not isinstance(values, dict) or len(values) > MAX_METRICS:
        raise BadEvent(f"metrics {str(values)[:80]}: expected an object of at most "
                       f"{MAX_METRICS} numbers")
    checked = {}
    for name, value in values.items():
        if len(name) > MAX_METRIC_NAME:
            raise BadEvent(f"metric name {name[:80]!r}…: longer than {MAX_METRIC_NAME}")
        if type(value) is float and not math.isfinite(value):
            continue  # a diverged loss (NaN, inf): not a point to show, not a bad event
        checked[name] = _number(value, f"metric {name!r}")
    step = record.get("step")
    timestamp = record.get("timestamp")
    return (step if type(step) is int else None,
            timestamp if type(timestamp) in (int, float) else None, checked)


class MetricsLog:
    """What a job logged with ``log_metrics``, as followed (for the widgets).

    ``last``/``step``: the last values of the current attempt (a "running" state
    event starts one: ``attempt`` counts them). No history is kept here: views
    that draw curves read the event file once, then get each new event through
    ``watchers`` (called on the scheduler's thread with ``(job, attempt, step,
    timestamp, values)``; ``values`` None when an attempt starts). A follower
    made for a new run reads the file from its start: ``read`` (metric and
    "running" records applied) makes it skip what was applied already.
    """

    def __init__(self):
        self.attempt = 0
        self.last: dict[str, float] = {}
        self.step: int | None = None
        self.read = 0
        self.watchers: list = []

    def apply(self, job, record: dict, nth: int) -> bool:
        """Apply the ``nth`` metric or "running" record of the file; False if seen."""
        if nth < self.read:
            return False
        if record.get("event_type") == "JobMetricsEvent":
            step, timestamp, values = check_metrics(record)  # BadEvent: not counted
            self.read = nth + 1
            self.last.update(values)
            self.step = step
        else:  # a new attempt: its values start over
            self.read = nth + 1
            self.attempt += 1
            self.last, self.step = {}, None
            step = values = None
            timestamp = record.get("timestamp")
        for watcher in list(self.watchers):
            try:
                watcher(job, max(self.attempt, 1), step, timestamp, values)
            except Exception:  # a view's bug must not stop the follower
                logger.exception("metrics watcher failed")
        return True


def metrics_log(job) -> MetricsLog:
    """The job's :class:`MetricsLog` (made on first use)."""
    log = job.__dict__.get("metrics_log")
    if log is None:
        log = job.__dict__.setdefault("metrics_log", MetricsLog())
    return log


def is_metric_record(record: dict) -> bool:
    """A metrics event, or the "running" state event that starts an attempt."""
    kind = record.get("event_type")
    return kind == "JobMetricsEvent" or (kind == "JobStateChangedEvent"
                                         and record.get("state") == "running")


class JobFollower:
    """Applies a job's new events to the ``Job`` and calls its output watchers."""

    def __init__(self, job, notify):
        self.job = job
        self.notify = notify
        connector = job.connector
        self.connector = connector
        self.remote = not connector.is_local
        self.events = FileTail(job.paths.events, connector)
        self.outputs = FileTail(job.paths.task_outputs, connector)
        self._metric_records = 0  # metric and "running" records read (see MetricsLog.read)

    def _read(self) -> tuple[list[dict], list[dict]]:
        return self.events.read(), self.outputs.read()

    def poll(self) -> None:
        """Read and apply the new records here (blocking: not on an event loop)."""
        self._apply(*self._read())

    def _apply(self, events: list[dict], outputs: list[dict]) -> None:
        changed = False
        for record in events:
            if record.get("event_type") == "JobProgressEvent":
                try:
                    self._progress(record)
                    changed = True
                except BadEvent as exc:
                    self._bad(f"{self.events.path}: {exc}")
                except Exception as exc:  # noqa: BLE001 - a job's events never fail it
                    self._bad(f"{self.events.path}: {type(exc).__name__}: {exc}")
            elif is_metric_record(record):
                self._metric_records += 1
                try:
                    changed |= metrics_log(self.job).apply(self.job, record,
                                                           self._metric_records - 1)
                except BadEvent as exc:
                    self._bad(f"{self.events.path}: {exc}")
        for record in outputs:
            try:
                self._output(record)
            except Exception as exc:  # noqa: BLE001
                self._bad(f"{self.outputs.path}: {type(exc).__name__}: {exc}")
        for tail in (self.events, self.outputs):
            if tail.skipped:
                self._bad(f"{tail.path}: {tail.skipped} line(s) skipped (not a JSON object, "
                          f"or longer than {MAX_LINE} bytes)")
                tail.skipped = 0
        if changed:
            self.notify(self.job)

    def _bad(self, what: str) -> None:
        """One warning per job for the events it wrote that are skipped."""
        job = self.job
        if getattr(job, "_bad_events_warned", False):
            return
        job._bad_events_warned = True
        logger.warning("job %s: skipping bad events (only this warning is given for this "
                       "job): %s", getattr(job, "locator", job), what)

    async def apoll(self) -> None:
        """:meth:`poll`, reading the job's files on the connector's worker threads."""
        self._apply(*await self.connector.call(self._read))

    def _progress(self, record: dict) -> None:
        entry = check_progress(record)
        level = entry["level"]
        levels = self.job.progress
        # Reporting at a level drops the deeper levels (a new inner loop starts).
        del levels[level:]
        while len(levels) < level:
            levels.append({"level": len(levels), "progress": 0.0, "desc": None})
        levels.append(entry)

    def _output(self, record: dict) -> None:
        method = record.get("method")
        if not self.job.watched_outputs:
            return
        args, kwargs = record.get("args", ()), record.get("kwargs", {})
        if (not isinstance(method, str) or not isinstance(args, (list, tuple))
                or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs)):
            raise BadEvent(f"task output record {str(record)[:200]}: expected a method name "
                           "(string), args (list) and kwargs (object)")
        for watched in self.job.watched_outputs:
            if watched.method_name != method:
                continue
            try:
                value = output_value(watched.config, self.job.config, method, args, kwargs)
                watched.callback(value)
            except Exception:  # a user's callback must not stop the job's follower
                logger.exception("watch_output callback for %s failed", method)

    async def run(self, finished: asyncio.Future) -> None:
        """Poll until ``finished`` is done, then read what was left."""
        interval = FOLLOW_INTERVAL_REMOTE if self.remote else FOLLOW_INTERVAL
        while not finished.done():
            await self._safe_poll()
            await asyncio.wait([finished], timeout=interval)
        await self._safe_poll()

    async def _safe_poll(self) -> None:
        """:meth:`apoll`; an error (an unreadable file) is logged: following never fails the job."""
        try:
            await self.apoll()
        except Exception as exc:  # noqa: BLE001
            self._bad(f"cannot read its event files: {type(exc).__name__}: {exc}")
