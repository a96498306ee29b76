"""Reading job folders in bulk: the ``.done`` marker and the event file of each job.

This module uses only the standard library (and ``orjson`` when installed)
and no other module of xpm_nb, so that a helper process can run it as a
script (``python eventscan.py``: a request on stdin, the answer on stdout,
both ``marshal``, both temporary files) without importing the package:
:func:`scan_parallel` splits a first scan of many job folders (at least
``PARALLEL_MIN``) between this process and such helpers, one per other core
(``$XPM_NB_RESULTS_HELPERS`` caps them; 0 turns them off). As a script, this
folder comes first on ``sys.path``: no module here may be named like a
standard one.

Per job: one ``stat`` of the marker and one read of the event file, both
relative to the job's parent folder (``dir_fd``: the kernel resolves the
long workspace path once per folder instead of twice per job).
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["EventState", "parse_lines", "read_from", "scan_jobs", "scan_parallel", "scan_parts",
           "EVENTS"]

EVENTS = ".experimaestro/events/event-0.jsonl"  # relative to the job folder
FINAL_STATES = ("done", "error")

try:  # optional: parses event files 5 times faster than json
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = json.loads


def _parse_raw(blob: bytes) -> list:
    """JSON lines as a list (items of any type), in one call when all are well formed."""
    if not blob:
        return []
    try:
        return _fast_loads(b"[" + blob.replace(b"\n", b",") + b"]")
    except ValueError:  # an empty or corrupt line, or NaN (not JSON): one by one
        records = []
        for line in blob.split(b"\n"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records


def parse_lines(blob: bytes) -> list[dict]:
    """JSON lines (the objects only), parsed in one call when they are all well formed."""
    return [r for r in _parse_raw(blob) if isinstance(r, dict)]


class EventState:
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

    def feed_blob(self, blob: bytes) -> None:
        """Read the complete lines of ``blob`` (appended at ``offset``); a torn last
        line is left for next time."""
        end = blob.rfind(b"\n")
        if end >= 0:
            self.offset += end + 1
            self.feed(_parse_raw(blob[:end]))

    def feed(self, events: list) -> None:
        metrics = self.metrics
        for event in events:
            if type(event) is not dict:
                continue
            kind = event.get("event_type")
            if kind == "JobMetricsEvent":
                values = event.get("metrics")
                if type(values) is dict:
                    metrics.update(values)
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


_FIRST_READ = 16384


def read_from(path: str, offset: int = 0, dir_fd: int | None = None) -> bytes:
    """The bytes of a file from ``offset`` to its end (``path`` relative to ``dir_fd``)."""
    # os.open/os.pread with a first guess of the size: half the cost of open().read()
    # and no fstat, for 100,000 small files.
    fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
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


def open_dir(path: str) -> int | None:
    """A descriptor of a folder for ``dir_fd`` (None if it cannot be opened)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def scan_jobs(jobs: list[tuple[str, str]], as_tuples: bool = False) -> list[tuple | None]:
    """For each ``(job folder, marker file name)``: None when there is no marker (not
    done), else ``(token, marker mtime, state)`` where ``token`` is the marker's
    mtime in ns and ``state`` the whole event file read (an :class:`EventState`,
    as a tuple with ``as_tuples``: see :func:`state_tuple`), or None when it
    cannot be read.

    """
    out: list[tuple | None] = []
    append, stat = out.append, os.stat
    folders: dict[str, int | None] = {}  # parent folder -> its descriptor
    try:
        for path, marker in jobs:
            where, name = path.rsplit("/", 1)
            try:
                dir_fd = folders[where]
            except KeyError:
                dir_fd = folders[where] = open_dir(where) if len(folders) < 256 else None
            if dir_fd is None:
                name = path  # an absolute path then
            try:
                st = stat(f"{name}/{marker}", dir_fd=dir_fd)
            except OSError:
                append(None)
                continue
            try:
                blob = read_from(f"{name}/{EVENTS}", 0, dir_fd)
            except OSError:
                append((st.st_mtime_ns, st.st_mtime, None))
                continue
            events = EventState(None)
            events.feed_blob(blob)
            append((st.st_mtime_ns, st.st_mtime, state_tuple(events) if as_tuples else events))
    finally:
        for dir_fd in folders.values():
            if dir_fd is not None:
                os.close(dir_fd)
    return out


def state_tuple(s: EventState) -> tuple:
    """An :class:`EventState` as plain values (for ``marshal``)."""
    return (s.inode, s.offset, s.started, s.ended, s.final, s.progress, s.metrics, s.step)


def state_from(values: tuple) -> EventState:
    """The :class:`EventState` of :func:`state_tuple`."""
    s = EventState(values[0])
    (s.offset, s.started, s.ended, s.final, s.progress, s.metrics, s.step) = values[1:]
    return s


# --- a first scan split between processes --------------------------------------

PARALLEL_MIN = 20_000  # fewer jobs: helper processes cost more than they save
_HELPER_START = 5_000  # jobs this process scans while a helper starts (~0.1 s)
HELPERS_ENV = "XPM_NB_RESULTS_HELPERS"  # at most this many helpers (0: none)


def helpers_available() -> int:
    """Helper processes worth starting: one per other core this process may use
    (at most 7, or ``$XPM_NB_RESULTS_HELPERS``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        most = int(os.environ.get(HELPERS_ENV, "7"))
    except ValueError:
        most = 7
    return max(0, min(cores - 1, most))


def scan_parallel(jobs: list[tuple[str, str]]) -> list[tuple | None]:
    """:func:`scan_jobs`, split between this process and helper processes for
    many jobs on a machine of several cores (a failed helper's share is scanned
    here). The answers are the same as :func:`scan_jobs`' in every case, with
    the event states as tuples or not."""
    out: list[tuple | None] = [None] * len(jobs)
    for start, part in scan_parts(jobs):
        out[start:start + len(part)] = part
    return out


def scan_parts(jobs: list[tuple[str, str]]) -> Iterator[tuple[int, list]]:
    """:func:`scan_parallel` in parts ``(index of the first job, answers)``: this
    process's part first, which the caller can use while the helpers finish."""
    helpers = helpers_available() if len(jobs) >= PARALLEL_MIN else 0
    share = (len(jobs) - _HELPER_START) // (helpers + 1) if helpers > 0 else 0
    if share <= 0:
        yield 0, scan_jobs(jobs)
        return
    chunks = [jobs[i * share:(i + 1) * share] for i in range(helpers)]
    stdlib = _fast_loads is json.loads
    procs: list[subprocess.Popen | None] = []
    try:
        for chunk in chunks:
            procs.append(_start_helper(marshal.dumps((stdlib, chunk))))
        # This process takes a little more than a helper: it starts at once.
        yield helpers * share, scan_jobs(jobs[helpers * share:])
        for n, (proc, chunk) in enumerate(zip(procs, chunks)):
            yield n * share, _answer(proc, chunk)
    finally:
        for proc in procs:  # left early (an error): no helper outlives the call
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc is not None:
                proc.answer_file.close()  # type: ignore[attr-defined]


def _start_helper(request: bytes) -> subprocess.Popen | None:
    """A helper reading ``request`` from a temporary file and answering in another
    (files, not pipes: neither side waits for the other to read)."""
    if not sys.executable:  # an embedded interpreter: no python to start
        return None
    try:
        with tempfile.TemporaryFile() as question:
            question.write(request)
            question.seek(0)
            answer = tempfile.TemporaryFile()
            try:
                proc = subprocess.Popen([sys.executable, __file__], stdin=question,
                                        stdout=answer, stderr=subprocess.DEVNULL)
            except BaseException:
                answer.close()
                raise
    except OSError:
        return None
    proc.answer_file = answer  # type: ignore[attr-defined]
    return proc


def _answer(proc: subprocess.Popen | None, chunk: list) -> list:
    """A helper's answer, or the chunk scanned here if the helper failed."""
    if proc is None:
        return scan_jobs(chunk)
    answer_file = proc.answer_file  # type: ignore[attr-defined]
    try:
        code = proc.wait()
        answer_file.seek(0)
        answer = marshal.loads(answer_file.read()) if code == 0 else None
    except (OSError, ValueError, EOFError, TypeError):
        answer = None
    finally:
        answer_file.close()
    if not isinstance(answer, list) or len(answer) != len(chunk):
        return scan_jobs(chunk)
    return answer


def _helper_main() -> int:
    """Helper process: ``marshal`` request ``(stdlib json?, jobs)`` on stdin."""
    global _fast_loads
    import gc

    gc.disable()  # millions of objects, none of them garbage (see frame.results)
    stdlib, jobs = marshal.loads(sys.stdin.buffer.read())
    if stdlib:
        _fast_loads = json.loads
    sys.stdout.buffer.write(marshal.dumps(scan_jobs(jobs, as_tuples=True)))
    return 0


if __name__ == "__main__":
    sys.exit(_helper_main())
