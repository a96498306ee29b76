"""Job table rows and the messages that keep a view's copy of them current.

:class:`JobTableState` is the kernel side of the job-table protocol that
``js/job_table.js`` documents: it gives each job a small integer key, builds
JSON rows, answers a view's requests (``sync``, ``log``, ``compare``, ``cancel``,
``resubmit``) and turns the jobs marked dirty into a *patch* holding only the
rows that changed (a row the view has already gets only its changed fields:
the running jobs' metrics and progress change often, the rest rarely). Patches are numbered (``seq``); a snapshot carries the
number of the last patch it includes, so a view that sees a gap in the
numbers knows it missed one and asks for a snapshot again.

The scheduler marks jobs from its own thread while a notebook's requests
come on the kernel's: the bookkeeping is guarded by :attr:`JobTableState.lock`.
A snapshot only reads: several views (or a late one) share one stream of
patches, so building a snapshot never changes what the next patch holds.

:func:`encode_table` is the compact form of a snapshot's rows (about a
quarter of the size of the row objects: 10,000 jobs in about 1 MB);
``js/job_table.js`` decodes it, :func:`decode_table` is its inverse here.
The notebook widget and the standalone monitoring page both use this module;
it imports no widget library.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidArgumentError, XPMError
from .jobkeys import JobKeys

__all__ = ["JobTableState", "job_row", "encode_table", "decode_table", "STATES", "count_key"]

# Every JobState value, in the order the views show them.
STATES = ("unscheduled", "waiting", "ready", "scheduled", "running", "done", "error")
# The counts by state hold "cancelled" apart from "error" (failed).
COUNT_KEYS = (*STATES, "cancelled")
LOG_LINES = 40  # lines of a log tail, unless the view asks for another number
MAX_LOG_LINES = 500


_PLAIN = (str, int, float, bool, type(None))


def count_key(row: dict) -> str:
    """The key a row counts under: its state, or "cancelled" for a cancelled job."""
    if row["state"] == "error" and row.get("reason") == "cancelled":
        return "cancelled"
    return row["state"]


def job_row(job, key: int, keys: dict[int, int] | None = None) -> dict:
    """The JSON row of ``job`` (see the row format in ``js/job_table.js``).

    ``keys`` (``id(job)`` -> row key) gives ``deps``: the keys of the jobs it
    depends on that are rows of the same table (the task graph, compact: the
    views derive "needed by" from it).
    """
    # Called for every changed job at each flush: kept to plain reads. Metrics
    # come from what the scheduler's follower read (xpm_nb.scheduler.follow.MetricsLog).
    log = job.__dict__.get("metrics_log")
    return {
        "k": key,
        "id": job.identifier,
        "task": job.type_id,
        "name": job.config.__xpmtype__.cls.__qualname__,
        "state": job.state._value_,
        "reason": job.failure_reason,
        "code": job.exit_code,
        "progress": _progress(job),
        "tags": {
            str(k): v if type(v) in _PLAIN else repr(v) for k, v in job.tags.items()
        },
        "submitted": job.submitted_time,
        "started": job.started_time,
        "ended": job.ended_time,
        "retries": job.retry_count,
        "path": str(job.path),
        "metrics": dict(log.last) if log is not None else {},
        "step": log.step if log is not None else None,
        "deps": _dep_keys(job, keys) if keys else [],
    }


def _progress(job) -> list:
    """The progress levels a row shows. A done job is at 100% (its outer level, whatever it
    last reported; none when it reported none: the views show a done job full, and one
    that logs only metrics shows them instead). A failed or cancelled job keeps the last
    levels it reached: one sees how far it got."""
    levels = [[float(p.get("progress", 0.0)), p.get("desc")] for p in job.progress]
    if levels and job.state._value_ == "done":
        return [[1.0, levels[0][1]]]
    return levels


def _dep_keys(job, keys: dict[int, int]) -> list[int]:
    deps = job.__dict__.get("dependencies") or ()
    return sorted({keys[id(d)] for d in deps if id(d) in keys})


# --- the compact form of a snapshot's rows (see "Compact table" in js/job_table.js) ---
#
# One array per row, in key order (the key is the index):
#   [id, task index, state index, tags, submitted, started, ended,
#    progress, reason, code, retries, path, metrics, step, deps]
# - task index: into ``tasks`` ([type id, class name] pairs);
# - state index: into STATES;
# - tags: values in ``tag_names`` order when the row has exactly those tags,
#   else the {name: value} object; metrics the same with ``metric_names``;
# - times: seconds after ``t0`` (an integer), rounded to the millisecond;
# - path: an index into ``roots`` when the path is ``root/<type id>/<id>``,
#   else the path itself;
# - trailing fields equal to their default (null, [], 0, root 0) are left out.
_DEFAULTS = (None, None, None, [], None, None, 0, 0, {}, None, [])  # fields 4 (submitted) to 14 (deps)
_FIRST_OPTIONAL = 4


def _rel(t, t0: int):
    return None if t is None else round(t - t0, 3)


def _by_names(values: dict, names: list[str], name_set: set):
    """``values`` as a list in ``names`` order when it has exactly those keys."""
    if values and len(values) == len(names) and values.keys() == name_set:
        return [values[n] for n in names]
    return values


def encode_table(rows: list[dict], tag_names: list[str],
                 metric_names: list[str] | None = None) -> dict:
    """The compact form of ``rows`` (keys 0..n-1, in order)."""
    tasks: list[list] = []
    task_index: dict[tuple, int] = {}
    roots: list[str] = []
    root_index: dict[str, int] = {}
    state_index = {s: i for i, s in enumerate(STATES)}
    times = [t for row in rows for t in (row["submitted"], row["started"], row["ended"])
             if t is not None]
    t0 = int(min(times)) if times else 0
    names = list(tag_names)
    name_set = set(names)
    mnames = list(metric_names or [])
    mname_set = set(mnames)
    encoded = []
    for row in rows:
        task_key = (row["task"], row["name"])
        ti = task_index.get(task_key)
        if ti is None:
            ti = task_index[task_key] = len(tasks)
            tasks.append(list(task_key))
        tags = row["tags"]
        if len(tags) == len(names) and tags.keys() == name_set:
            tags = [tags[n] for n in names]
        metrics = _by_names(row.get("metrics") or {}, mnames, mname_set)
        path = row["path"]
        suffix = f"/{row['task']}/{row['id']}"
        if path.endswith(suffix):
            root = path[: -len(suffix)]
            ri = root_index.get(root)
            if ri is None:
                ri = root_index[root] = len(roots)
                roots.append(root)
            path = ri
        state = state_index.get(row["state"], row["state"])
        item = [row["id"], ti, state, tags, _rel(row["submitted"], t0),
                _rel(row["started"], t0), _rel(row["ended"], t0), row["progress"],
                row["reason"], row["code"], row["retries"], path, metrics, row.get("step"),
                row.get("deps") or []]
        n = len(item)
        while n > _FIRST_OPTIONAL and item[n - 1] == _DEFAULTS[n - 1 - _FIRST_OPTIONAL]:
            n -= 1
        encoded.append(item[:n])
    return {"tasks": tasks, "roots": roots, "t0": t0, "rows": encoded}


def decode_table(table: dict, tag_names: list[str],
                 metric_names: list[str] | None = None) -> list[dict]:
    """The rows of a table encoded by :func:`encode_table` (as ``js/job_table.js`` decodes it)."""
    t0 = table["t0"]
    rows = []
    for k, item in enumerate(table["rows"]):
        item = list(item) + list(_DEFAULTS[len(item) - _FIRST_OPTIONAL:])
        (ident, ti, state, tags, submitted, started, ended, progress, reason, code,
         retries, path, metrics, step, deps) = item
        task, name = table["tasks"][ti]
        if isinstance(tags, list):
            tags = dict(zip(tag_names, tags))
        if isinstance(metrics, list):
            metrics = dict(zip(metric_names or [], metrics))
        if isinstance(path, int):
            path = f"{table['roots'][path]}/{task}/{ident}"
        rows.append({
            "k": k, "id": ident, "task": task, "name": name,
            "state": STATES[state] if isinstance(state, int) else state,
            "reason": reason, "code": code, "progress": progress, "tags": tags,
            "submitted": None if submitted is None else t0 + submitted,
            "started": None if started is None else t0 + started,
            "ended": None if ended is None else t0 + ended,
            "retries": retries, "path": path, "metrics": metrics, "step": step,
            "deps": deps,
        })
    return rows


def _delta(old: dict, row: dict) -> dict:
    """The fields of ``row`` that differ from ``old``, with the key."""
    delta = {"k": row["k"]}
    for name, value in row.items():
        if old.get(name) != value:
            delta[name] = value
    return delta


class JobTableState(JobKeys):
    """The rows of a set of jobs (``k``: the row of ``jobs[k]``), and what a view was
    last sent of them."""

    def __init__(self, jobs: Iterable = ()):
        super().__init__()
        self.seq = 0  # number of the last patch made
        self._sent: dict[int, dict] = {}  # key -> the row a view last got
        self._counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)  # of the sent rows
        self._tag_names: list[str] = []
        self._sent_tag_names: list[str] = []
        self._metric_names: list[str] = []  # in order of first appearance
        self._metric_set: set[str] = set()
        self._sent_metric_names: list[str] = []
        for job in jobs:
            self.add(job)

    def _added(self, job) -> None:
        for name in job.tags:
            if name not in self._tag_names:
                self._tag_names.append(str(name))

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    @property
    def tag_names(self) -> list[str]:
        with self.lock:
            return list(self._tag_names)

    @property
    def metric_names(self) -> list[str]:
        with self.lock:
            return list(self._metric_names)

    def counts(self) -> dict[str, int]:
        """Number of jobs in each state, as the rows last sent say (zeros included).

        Cancelled jobs (state "error", reason "cancelled") count as "cancelled", not "error".
        """
        with self.lock:
            return dict(self._counts)

    def _note_metrics(self, row: dict) -> None:
        for name in row["metrics"]:
            if name not in self._metric_set:
                self._metric_set.add(name)
                self._metric_names.append(name)

    def _record(self, row: dict) -> None:
        """Remember ``row`` as sent; keep the counts by state current (no full pass)."""
        old = self._sent.get(row["k"])
        if old is not None:
            self._counts[count_key(old)] -= 1
        key = count_key(row)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._sent[row["k"]] = row
        self._note_metrics(row)

    # --- messages to views ------------------------------------------------

    def baseline(self) -> None:
        """Start the stream of patches here: the next patch holds only later changes.

        For a view that gets a snapshot made now (a widget's initial state).
        """
        with self.lock:
            for key, job in enumerate(self.jobs):
                self._record(job_row(job, key, self._keys))
            self._dirty.clear()
            self._sent_tag_names = list(self._tag_names)
            self._sent_metric_names = list(self._metric_names)

    def _rows(self) -> tuple[list[dict], list[str], list[str], int]:
        with self.lock:
            rows = [job_row(job, key, self._keys) for key, job in enumerate(self.jobs)]
            for row in rows:
                self._note_metrics(row)  # a later patch names them too: harmless
            return rows, self.tag_names, self.metric_names, self.seq

    def snapshot(self) -> dict:
        """Every row, now (``{"type": "sync"}``): it includes patch ``seq`` and all before it.

        Only reads: the next patch is the same whether or not a snapshot was made.
        """
        rows, tag_names, metric_names, seq = self._rows()
        return {"type": "snapshot", "rows": rows, "tag_names": tag_names,
                "metric_names": metric_names, "seq": seq, "now": time.time()}

    def compact_snapshot(self) -> dict:
        """:meth:`snapshot` with the rows in their compact form (``table``, see :func:`encode_table`)."""
        rows, tag_names, metric_names, seq = self._rows()
        return {"type": "snapshot", "table": encode_table(rows, tag_names, metric_names),
                "n": len(rows), "tag_names": tag_names, "metric_names": metric_names,
                "seq": seq, "now": time.time()}

    def patch(self) -> dict | None:
        """The rows changed since the last patch (numbered ``seq``), or None when none did.

        A row sent before goes as ``{"k", <changed fields>}`` (no ``id``): the view
        merges it into the row it has; its ``metrics``, when they hold every name
        of ``metric_names``, are the list of the values in that order.
        """
        with self.lock:
            dirty = self._take_dirty()
            changed = []
            for key in sorted(dirty):
                row = job_row(self.jobs[key], key, self._keys)
                old = self._sent.get(key)
                if old != row:
                    self._record(row)
                    changed.append(row if old is None else self._short(_delta(old, row)))
            message: dict[str, Any] = {"type": "patch", "rows": changed, "now": time.time()}
            if self._tag_names != self._sent_tag_names:
                self._sent_tag_names = list(self._tag_names)
                message["tag_names"] = self.tag_names
            if self._metric_names != self._sent_metric_names:
                self._sent_metric_names = list(self._metric_names)
                message["metric_names"] = self.metric_names
            if not changed and len(message) == 3:
                return None
            self.seq += 1
            message["seq"] = self.seq
            return message

    def _short(self, delta: dict) -> dict:
        """A delta's metrics as values in ``metric_names`` order when it has them all
        (the names are most of the bytes of a running job's patch)."""
        metrics = delta.get("metrics")
        if metrics:
            delta["metrics"] = _by_names(metrics, self._metric_names, self._metric_set)
        return delta

    # --- requests from views ----------------------------------------------

    def job(self, key: Any):
        try:
            return self.jobs[int(key)]
        except (TypeError, ValueError, IndexError):
            msg = (f"no job with key {key!r} in this table (it has {len(self.jobs)} jobs). "
                   "Fix: give the key k of one of its rows (an integer from 0)")
            raise InvalidArgumentError(msg) from None

    def handle(self, message: Any) -> dict | None:
        """The answer to a view's request (None for messages of other kinds)."""
        if not isinstance(message, dict):
            return None
        kind = message.get("type")
        if kind == "sync":
            return self.snapshot()
        if kind == "log":
            return self._log(message)
        if kind in ("cancel", "resubmit"):
            return self._act(kind, message.get("k"))
        if kind == "compare":
            return self._compare(message.get("keys"))
        return None

    def _compare(self, keys: Any) -> dict:
        """What differs between the configurations of the jobs ``keys`` (see widgets/compare.py)."""
        from .compare import MAX_COMPARED, compare_jobs

        reply: dict[str, Any] = {"type": "compare", "keys": keys}
        try:
            if not isinstance(keys, list) or not 2 <= len(keys) <= MAX_COMPARED:
                msg = (f"compare: keys={keys!r}: expected a list of 2 to {MAX_COMPARED} job keys. "
                       f"Fix: select between 2 and {MAX_COMPARED} rows")
                raise InvalidArgumentError(msg)
            reply.update(compare_jobs([self.job(k) for k in keys]))
        except XPMError as exc:
            reply["error"] = str(exc)
        return reply

    def _log(self, message: dict) -> dict:
        """A log tail; ``stream`` "auto": stderr, or stdout when stderr is empty."""
        asked = message.get("stream")
        stream = "out" if asked == "out" else "err"
        reply = {"type": "log", "k": message.get("k"), "stream": stream}
        try:
            job = self.job(message.get("k"))
            lines = min(int(message.get("lines") or LOG_LINES), MAX_LOG_LINES)
            text = job.log_tail(lines, stream)
            if asked == "auto" and not text.strip():
                out = job.log_tail(lines, "out")
                if out.strip():
                    stream, text = "out", out
            reply["stream"], reply["text"] = stream, text
            reply["file"] = str(job.stdout if stream == "out" else job.stderr)
        except (XPMError, TypeError, ValueError) as exc:
            reply["error"] = str(exc)
        return reply

    def _act(self, action: str, key: Any) -> dict:
        reply: dict[str, Any] = {"type": "action", "action": action, "k": key}
        try:
            job = self.job(key)
            name = f"{job.config.__xpmtype__.cls.__qualname__} {job.identifier[:12]}"
            if action == "cancel":
                ok = bool(job.cancel())
                reply["message"] = f"cancelling {name}" if ok else f"{name} was already finished"
            else:
                job.resubmit()
                ok = True
                reply["message"] = f"{name} resubmitted"
            reply["ok"] = ok
            self.mark(job)
        except XPMError as exc:
            reply["ok"] = False
            reply["message"] = str(exc)
        return reply
