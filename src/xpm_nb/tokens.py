"""Tokens: counted resources shared by all processes of a machine
(the reference's ``experimaestro.tokens``).

A host concern, below the scheduler: connectors (an SSH host's tokens) and
launchers (the host's job slots) use them as the scheduler does.

A token file holds the current holders ``{job path: [count, pid]}``; every
change happens under a file lock. A holder keeps its share while its
scheduler process lives or while its job still runs (a driver killed with
kill -9 leaves its job running, and the resource in use); once both are gone
it is dropped, so a crashed holder never keeps its share. A token file that
cannot be read (corrupt, truncated) counts as no holders, and is rewritten
whole at the next change.

Hundreds of queued jobs poll a full token: a poll that finds the file
unchanged since the last full read said "no room" answers from that read
(one ``stat``, no lock) for up to ``RECHECK`` seconds, so that the notebook's
loop is not spent re-reading the same file. The cache can only delay a
grant (dead holders are found at the next full read), never over-commit.

The file lock (``lockf``) excludes other processes only: the threads of one
process take a thread lock per token file first (two ``CounterToken`` objects
on one file included), so the scheduler's worker threads never interleave
their changes. The host's job slots (``launchers/slots.py``) are a token file
of the same format.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import fasteners

from .core.params import atomic_write
from .errors import InvalidArgumentError
from .layout import parse_pid_file, pid_alive, pid_is_live

__all__ = ["CounterToken", "TokenDependency"]

RECHECK = 0.5  # seconds a "no room" answer is reused while the token file is unchanged


class CounterToken:
    """At most ``total`` units held at once, across processes."""

    def __init__(self, name: str, path: Path, total: int):
        if total < 1:
            msg = f"token {name!r}: total must be at least 1 (got {total})"
            raise InvalidArgumentError(msg)
        self.name = name
        self.path = Path(path)
        self.total = total
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _FileLock(str(self.path) + ".lock")
        # The last full read that found no room: (file signature, time, units used, holders).
        self._full: tuple | None = None

    def __repr__(self) -> str:
        return f"CounterToken({self.name!r}, total={self.total})"

    def dependency(self, count: int = 1) -> TokenDependency:
        if not 1 <= count <= self.total:
            msg = f"token {self.name!r}: count must be between 1 and {self.total} (got {count})"
            raise InvalidArgumentError(msg)
        return TokenDependency(self, count)

    def _holders(self) -> dict:
        try:
            holders = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(holders, dict):
            return {}
        alive = {}
        for key, entry in holders.items():
            entry = _entry(entry)
            if entry is not None and (_live(entry[1]) or _job_running(key)):
                alive[key] = entry
        return alive

    def _signature(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _still_full(self, key: str, count: int) -> bool:
        """True when the last full read's "no room" still holds (file unchanged, recent)."""
        if self._full is None:
            return False
        signature, when, used, keys = self._full
        return (key not in keys and used + count > self.total
                and time.monotonic() - when < RECHECK and self._signature() == signature)

    def try_acquire(self, key: str, count: int, pid: int | None = None) -> bool:
        if self._still_full(key, count):
            return False
        with self._lock:
            signature = self._signature()
            holders = self._holders()
            if key in holders:
                return True
            used = sum(v[0] for v in holders.values())
            if used + count > self.total:
                self._full = (signature, time.monotonic(), used, set(holders))
                return False
            holders[key] = [count, pid or os.getpid()]
            atomic_write(self.path, json.dumps(holders))
            self._full = None
            return True

    def hold(self, key: str, count: int, pid: int | None = None) -> bool:
        """Record ``key`` as a holder of ``count`` units even beyond ``total`` (the
        resource is in use already, e.g. by a job found running): True when recorded
        now, False when ``key`` already held (its entry is left as it is)."""
        with self._lock:
            holders = self._holders()
            if key in holders:
                return False
            holders[key] = [count, pid or os.getpid()]
            atomic_write(self.path, json.dumps(holders))
            self._full = None
            return True

    def release(self, key: str, pid: int | None = None) -> None:
        """Drop the holder ``key``; with ``pid``, only if that process recorded it
        (a process then leaves the entries of other processes alone)."""
        self._full = None
        with self._lock:
            holders = self._holders()
            entry = holders.get(key)
            if entry is not None and (pid is None or entry[1] == pid):
                del holders[key]
                atomic_write(self.path, json.dumps(holders))

    def used(self) -> int:
        with self._lock:
            return sum(v[0] for v in self._holders().values())


_THREAD_LOCKS: dict[str, threading.Lock] = {}  # by lock file: one per process
_THREAD_LOCKS_GUARD = threading.Lock()


class _FileLock:
    """The token file's lock: a thread lock of this process, then the file lock.

    ``lockf`` locks belong to the process, so two threads would both "hold" the
    file lock (and the first to let go would release it for both).
    """

    def __init__(self, path: str):
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(os.path.abspath(path),
                                                         threading.Lock())
        self._file_lock = fasteners.InterProcessLock(path)

    def __enter__(self) -> _FileLock:
        self._thread_lock.acquire()
        try:
            self._file_lock.acquire()
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._file_lock.release()
        finally:
            self._thread_lock.release()


def _entry(entry) -> list[int] | None:
    """``[count, pid]`` of a holder, or None for a malformed entry (it holds nothing)."""
    try:
        count, pid = int(entry[0]), int(entry[1])
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        return None
    return [count, pid] if count >= 1 else None


def _live(pid: int) -> bool:
    """``pid_alive`` for any int read from a file (0, negative, huge: not a process)."""
    try:
        return pid > 0 and pid_alive(pid)
    except OverflowError:
        return False


def _job_running(key: str) -> bool:
    """Whether the job of the folder ``key`` has a live process (its ``<name>.pid`` file).

    A holder whose scheduler died keeps its share while its job runs on.
    """
    try:
        pid_files = list(Path(key).glob("*.pid"))
    except (OSError, ValueError):
        return False
    for pid_file in pid_files:
        try:
            info = parse_pid_file(pid_file.read_bytes())
        except OSError:
            continue
        # Another host's process cannot be checked: its pid counts as running.
        if pid_is_live(info, socket.gethostname(), _live) is not None:
            return True
    return False


class TokenDependency:
    """A job's claim on ``count`` units of a token (``task.add_dependencies(token.dependency(1))``)."""

    def __init__(self, token: CounterToken, count: int):
        self.token = token
        self.count = count
