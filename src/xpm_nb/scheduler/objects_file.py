"""The run's ``objects.jsonl``: the configurations of its jobs, as the reference writes them.

One serialized object per line (the ``params.json`` object format, ids unique
within the run), every object written once even when several jobs share it;
the reference's ``load_xp_info`` (and ours) finds each job's configuration by
its ``identifier`` (the ``job_id`` of ``jobs.jsonl``).

The reference appends to the file; we rewrite it whole, atomically (temp file +
rename), so a reader never sees a torn line. Rewrites are coalesced (at most
one per :data:`MIN_INTERVAL` while jobs keep coming, a last one when they
stop, and one when the experiment closes): a grid of thousands of jobs does not
rewrite a growing file thousands of times.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from ..core.params import ObjectWriter
from ..errors import ConnectorError

__all__ = ["ObjectsFile", "MIN_INTERVAL"]

logger = logging.getLogger("xpm_nb.experiment")

MIN_INTERVAL = 0.5
"""Seconds between two rewrites of ``objects.jsonl`` while jobs are being recorded."""


class ObjectsFile:
    """The ``objects.jsonl`` of one run, on the workspace's host (``fs``: its connector)."""

    def __init__(self, fs, path: Path):
        self.fs = fs
        self.path = Path(path)
        self._writer = ObjectWriter()  # shared: an object used by several jobs is written once
        self._lines: list[str] = []
        self._written = 0  # lines in the file on disk
        self._last_write = 0.0
        self._lock = threading.Lock()  # jobs are recorded on I/O threads, closed elsewhere
        self._timer: threading.Timer | None = None
        self._closed = False

    def add(self, config) -> None:
        """Serialize ``config`` (and what it uses, not yet written); write soon."""
        with self._lock:
            start = len(self._writer.objects)
            try:
                self._writer.config(config)
            except BaseException:
                # Nothing half-written: what this call added is forgotten.
                del self._writer.objects[start:]
                self._writer.done = {o["id"] for o in self._writer.objects}
                raise
            self._lines += [json.dumps(o, separators=(",", ":"), default=str)
                            for o in self._writer.objects[start:]]
            if self._closed or time.monotonic() - self._last_write >= MIN_INTERVAL:
                self._write_locked()  # closed: a job recorded late is written at once
            elif self._timer is None:
                # The last jobs of a burst are written when it ends.
                self._timer = threading.Timer(MIN_INTERVAL, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write the objects not yet on disk (always creates the file)."""
        with self._lock:
            if self._written < len(self._lines) or not self._written:
                self._write_locked()

    def close(self) -> None:
        """Last write (a warning if the host cannot take it); no timer left behind."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            if self._written < len(self._lines) or not self._written:
                self._write_or_warn()

    def _flush_from_timer(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed and self._written < len(self._lines):
                self._write_or_warn()  # on a timer's thread: an exception would only be printed

    def _write_or_warn(self) -> None:
        try:
            self._write_locked()
        except (OSError, ConnectorError) as exc:
            # A convenience file (the jobs' folders keep the truth): a warning; a later
            # add or the close writes it whole again.
            logger.warning("cannot write %s: %s", self.path, exc)

    def _write_locked(self) -> None:
        text = "".join(line + "\n" for line in self._lines)
        self.fs.write_atomic(self.path, text)
        self._written = len(self._lines)
        self._last_write = time.monotonic()
