"""Job table rows and the messages that keep a view's copy of them current.

:class:`JobTableState` is the kernel side of the job-table protocol that
``js/job_table.js`` documents: it gives each job a small integer key, builds
JSON rows, answers a view's requests (``sync``, ``log``, ``cancel``,
``resubmit``) and turns the jobs marked dirty into a *patch* holding only the
rows that changed. The notebook widget and the standalone monitoring page
both use it; it imports no widget library.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..errors import XPMError

__all__ = ["JobTableState", "job_row", "STATES"]

# Every JobState value, in the order the views show them.
STATES = ("unscheduled", "waiting", "ready", "scheduled", "running", "done", "error")
LOG_LINES = 40  # lines of a log tail, unless the view asks for another number
MAX_LOG_LINES = 500


_PLAIN = (str, int, float, bool, type(None))


def job_row(job, key: int) -> dict:
    """The JSON row of ``job`` (see the row format in ``js/job_table.js``)."""
    # Called for every changed job at each flush: kept to plain reads.
    return {
        "k": key,
        "id": job.identifier,
        "task": job.type_id,
        "name": job.config.__xpmtype__.cls.__qualname__,
        "state": job.state._value_,
        "reason": job.failure_reason,
        "code": job.exit_code,
        "progress": [[float(p.get("progress", 0.0)), p.get("desc")] for p in job.progress],
        "tags": {
            str(k): v if type(v) in _PLAIN else repr(v) for k, v in job.tags.items()
        },
        "submitted": job.submitted_time,
        "started": job.started_time,
        "ended": job.ended_time,
        "retries": job.retry_count,
        "path": str(job.path),
    }


class JobTableState:
    """The rows of a set of jobs, and what a view was last sent of them."""

    def __init__(self, jobs: Iterable = ()):
        self.jobs: list = []  # index = row key
        self._keys: dict[int, int] = {}  # id(job) -> key
        self._sent: dict[int, dict] = {}  # key -> the row a view last got
        self._counts: dict[str, int] = dict.fromkeys(STATES, 0)  # states of the sent rows
        self._dirty: set[int] = set()
        self._tag_names: list[str] = []
        self._sent_tag_names: list[str] = []
        for job in jobs:
            self.add(job)

    def __len__(self) -> int:
        return len(self.jobs)

    def key(self, job) -> int | None:
        return self._keys.get(id(job))

    def add(self, job) -> int:
        """Add ``job`` (once) and mark it dirty; returns its key."""
        key = self._keys.get(id(job))
        if key is None:
            key = len(self.jobs)
            self.jobs.append(job)
            self._keys[id(job)] = key
            for name in job.tags:
                if name not in self._tag_names:
                    self._tag_names.append(str(name))
        self._dirty.add(key)
        return key

    def mark(self, job) -> bool:
        """Note that ``job`` changed; False if it is not in this table."""
        key = self._keys.get(id(job))
        if key is None:
            return False
        self._dirty.add(key)
        return True

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    @property
    def tag_names(self) -> list[str]:
        return list(self._tag_names)

    def counts(self) -> dict[str, int]:
        """Number of jobs in each state, as the rows last sent say (zeros included)."""
        return dict(self._counts)

    def _record(self, row: dict) -> None:
        """Remember ``row`` as sent; keep the counts by state current (no full pass)."""
        old = self._sent.get(row["k"])
        if old is not None:
            self._counts[old["state"]] -= 1
        self._counts[row["state"]] = self._counts.get(row["state"], 0) + 1
        self._sent[row["k"]] = row

    # --- messages to views ------------------------------------------------

    def snapshot(self) -> dict:
        """Every row: what a view gets when it starts (``{"type": "sync"}``)."""
        rows = [job_row(job, key) for key, job in enumerate(self.jobs)]
        self._sent = {}
        self._counts = dict.fromkeys(STATES, 0)
        for row in rows:
            self._record(row)
        self._dirty.clear()
        self._sent_tag_names = list(self._tag_names)
        return {"type": "snapshot", "rows": rows, "tag_names": self.tag_names, "now": time.time()}

    def patch(self) -> dict | None:
        """The rows changed since the last message, or None when none did."""
        changed = []
        for key in sorted(self._dirty):
            row = job_row(self.jobs[key], key)
            if self._sent.get(key) != row:
                self._record(row)
                changed.append(row)
        self._dirty.clear()
        message: dict[str, Any] = {"type": "patch", "rows": changed, "now": time.time()}
        if self._tag_names != self._sent_tag_names:
            self._sent_tag_names = list(self._tag_names)
            message["tag_names"] = self.tag_names
        if not changed and "tag_names" not in message:
            return None
        return message

    # --- requests from views ----------------------------------------------

    def job(self, key: Any):
        try:
            return self.jobs[int(key)]
        except (TypeError, ValueError, IndexError):
            msg = f"no job with key {key!r} in this table (it has {len(self.jobs)} jobs)"
            raise XPMError(msg) from None

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
        return None

    def _log(self, message: dict) -> dict:
        stream = "out" if message.get("stream") == "out" else "err"
        reply = {"type": "log", "k": message.get("k"), "stream": stream}
        try:
            job = self.job(message.get("k"))
            lines = min(int(message.get("lines") or LOG_LINES), MAX_LOG_LINES)
            reply["text"] = job.log_tail(lines, stream)
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
