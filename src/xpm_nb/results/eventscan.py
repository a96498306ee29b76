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

import errno
import json
import marshal
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["EventState", "parse_lines", "read_from", "read_small", "scan_jobs", "scan_parallel",
           "scan_parts", "BadFile", "EVENTS", "EVENTS_LIMIT", "SMALL_LIMIT"]

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
        # Values of the wrong type (a hand-edited or corrupt file) are left out:
        # times and progress are numbers, a step an integer, metrics numbers.
        metrics = self.metrics
        for event in events:
            if type(event) is not dict:
                continue
            kind = event.get("event_type")
            if kind == "JobMetricsEvent":
                values = event.get("metrics")
                if type(values) is dict:
                    metrics.update((k, v) for k, v in values.items() if _is_number(v))
                    step = event.get("step")
                    self.step = step if type(step) is int else None
            elif kind == "JobProgressEvent":
                if not event.get("level"):
                    progress = event.get("progress")
                    self.progress = progress if _is_number(progress) else None
            elif kind == "JobStateChangedEvent":
                state = event.get("state")
                timestamp = event.get("timestamp")
                if not _is_number(timestamp):
                    timestamp = None
                if state == "running":
                    # A new run (a retry) starts over.
                    self.started, self.ended, self.final = timestamp, None, False
                elif state in FINAL_STATES:
                    self.ended, self.final = timestamp, True


def _is_number(value) -> bool:
    """A float, or an int that a float64 (and an Int64 column) holds."""
    return type(value) is float or (type(value) is int and -(1 << 63) <= value < 1 << 63)


_FIRST_READ = 16384

EVENTS_LIMIT = 512 << 20
"""At most this many bytes of an event file (or of ``jobs.jsonl``) are read."""
SMALL_LIMIT = 4 << 20
"""At most this many bytes of a marker, pid file or ``status.json``."""

# Files of a job folder are opened without following a last symbolic link
# (xpm_nb and the reference write them in place) and without waiting (a FIFO
# planted in place of a file would block the open until a writer comes).
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class BadFile(OSError):
    """A workspace file that is not a regular file, or too large: it is not read.

    ``what`` says what is wrong (the caller names the file)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _open(path: str, dir_fd: int | None) -> int:
    try:
        return os.open(path, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadFile("is a symbolic link, not a regular file (never followed)") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a socket
            raise BadFile("is a socket, not a regular file") from None
        raise


def _check(fd: int, limit: int, offset: int = 0) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise BadFile(f"is {_kind(st.st_mode)}, not a regular file")
    if st.st_size - offset > limit:
        raise BadFile(f"holds {st.st_size} bytes, more than the {limit} read at most")
    return st


def _read_to_end(fd: int, offset: int, limit: int, parts: list[bytes]) -> bytes:
    """The rest of a regular file (it may grow while read: never past ``limit``)."""
    total = sum(map(len, parts))
    while True:
        more = os.pread(fd, min(1 << 20, limit + 1 - total), offset + total)
        if not more:
            return b"".join(parts)
        parts.append(more)
        total += len(more)
        if total > limit:
            raise BadFile(f"holds more than the {limit} bytes read at most")


def read_from(path: str, offset: int = 0, dir_fd: int | None = None,
              limit: int = EVENTS_LIMIT) -> bytes:
    """The bytes of a file from ``offset`` to its end (``path`` relative to ``dir_fd``).

    :class:`BadFile` if it is not a regular file (a FIFO, a device, a symbolic
    link, a folder) or holds more than ``limit`` bytes from ``offset``.
    """
    # os.open/os.pread with a first guess of the size: half the cost of open().read()
    # and no fstat for small files (100,000 of them); a FIFO fails the pread (ESPIPE).
    fd = _open(path, dir_fd)
    try:
        try:
            blob = os.pread(fd, _FIRST_READ, offset)
        except OSError as exc:
            if exc.errno in (errno.ESPIPE, errno.EISDIR, errno.EINVAL, errno.EAGAIN):
                _check(fd, limit, offset)  # raises BadFile for what is not a file
            raise
        if len(blob) < _FIRST_READ:
            return blob
        _check(fd, limit, offset)  # larger: a regular file, of a bounded size
        return _read_to_end(fd, offset, limit, [blob])
    finally:
        os.close(fd)


def read_small(path: str, limit: int = SMALL_LIMIT, dir_fd: int | None = None) -> bytes | None:
    """A whole file of a workspace (a marker, a pid file, ``status.json``), or None
    when there is none; :class:`BadFile` when it is not a regular file or too large."""
    try:
        fd = _open(path, dir_fd)
    except FileNotFoundError:
        return None
    try:
        _check(fd, limit)
        return _read_to_end(fd, 0, limit, [])
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
    cannot be read, or a message (a ``str``) when it is not a regular file or
    is too large (:class:`BadFile`).

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
            except BadFile as exc:  # the message instead of the state: bad input
                append((st.st_mtime_ns, st.st_mtime, f"{path}/{EVENTS} {exc.what}"))
                continue
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
