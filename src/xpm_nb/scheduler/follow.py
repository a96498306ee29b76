"""Following a running job from the notebook: its progress and dynamic outputs.

The job process appends JSON lines to ``.experimaestro/events/event-0.jsonl``
(progress, metrics, state) and ``.experimaestro/task-outputs.jsonl``
(``register_task_output``). A follower reads only the bytes added since its
last read, so following hundreds of jobs costs one ``stat`` per file and poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

__all__ = ["FileTail", "JobFollower"]

logger = logging.getLogger(__name__)

FOLLOW_INTERVAL = 0.25  # seconds: progress seen in the notebook within this delay
FOLLOW_INTERVAL_REMOTE = 1.0  # the same for a job on a remote host (SFTP round trips)


class FileTail:
    """The complete JSON lines appended to a file since the last call."""

    def __init__(self, path: Path, connector=None):
        self.path = path
        self.offset = 0
        self._partial = b""
        # A remote host's connector (SFTP); None reads the local file directly.
        self.connector = None if connector is None or connector.is_local else connector

    def read(self) -> list[dict]:
        if self.connector is not None:
            data = self.connector.read_range(self.path, self.offset)
            if not data:
                return []
        else:
            try:
                size = self.path.stat().st_size
            except OSError:
                return []
            if size <= self.offset:
                return []
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(size - self.offset)
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for its end
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn line is skipped, never fatal
            if isinstance(record, dict):
                records.append(record)
        return records


class JobFollower:
    """Applies a job's new events to the ``Job`` and calls its output watchers."""

    def __init__(self, job, notify):
        self.job = job
        self.notify = notify
        connector = job.connector
        self.remote = None if connector.is_local else connector
        self.events = FileTail(job.paths.events, connector)
        self.outputs = FileTail(job.paths.meta / "task-outputs.jsonl", connector)

    def _read(self) -> tuple[list[dict], list[dict]]:
        return self.events.read(), self.outputs.read()

    def poll(self) -> None:
        self._apply(*self._read())

    def _apply(self, events: list[dict], outputs: list[dict]) -> None:
        changed = False
        for record in events:
            if record.get("event_type") == "JobProgressEvent":
                self._progress(record)
                changed = True
        for record in outputs:
            self._output(record)
        if changed:
            self.notify(self.job)

    async def apoll(self) -> None:
        """:meth:`poll`, reading a remote job's files off the event loop."""
        if self.remote is None:
            self.poll()
        else:
            self._apply(*await self.remote.call(self._read))

    def _progress(self, record: dict) -> None:
        level = int(record.get("level", 0))
        levels = self.job.progress
        entry = {"level": level, "progress": float(record.get("progress", 0.0)),
                 "desc": record.get("desc")}
        # Reporting at a level drops the deeper levels (a new inner loop starts).
        del levels[level:]
        while len(levels) < level:
            levels.append({"level": len(levels), "progress": 0.0, "desc": None})
        levels.append(entry)

    def _output(self, record: dict) -> None:
        method = record.get("method")
        for watched in self.job.watched_outputs:
            if watched.method_name != method:
                continue
            try:
                value = getattr(watched.config, method)(
                    *record.get("args", ()), **record.get("kwargs", {})
                )
                watched.callback(value)
            except Exception:  # a user's callback must not stop the job's follower
                logger.exception("watch_output callback for %s failed", method)

    async def run(self, finished: asyncio.Future) -> None:
        """Poll until ``finished`` is done, then read what was left."""
        interval = FOLLOW_INTERVAL if self.remote is None else FOLLOW_INTERVAL_REMOTE
        while not finished.done():
            await self.apoll()
            await asyncio.wait([finished], timeout=interval)
        await self.apoll()
