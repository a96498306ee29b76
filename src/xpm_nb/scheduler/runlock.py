"""The lock an open experiment run holds, and how readers tell a live run from a dead one.

An experiment holds ``WS/experiments/<name>/<run id>/lock`` (``fcntl.lockf``
through ``fasteners``, or the SSH agent's lock on a remote workspace) from
its opening to its closing. The operating system drops the lock when the
process dies (``kill -9``, a crashed or restarted notebook kernel), so a run
whose ``status.json`` still says ``"running"`` while nobody holds its lock was
not closed: readers report it as ``"crashed"``. (A dropped SSH link ends the
agent and its lock; the connector takes it again once reconnected.)

POSIX locks belong to the process, and closing *any* descriptor of the file
releases them: a reader must never open the lock file of a run that its own
process holds. Runs locked here are therefore remembered (``_HELD``) and
answered without touching the file.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

from ..layout import RUN_LOCK_NAME  # the lock file's name in the run's folder

__all__ = ["RUN_LOCK_NAME", "CRASHED", "RunLock", "lock_is_held"]

#: The status readers give a run left "running" by a driver that died without closing it.
CRASHED = "crashed"

_HELD: set[str] = set()  # real paths of the run locks this process holds
_HELD_GUARD = threading.Lock()


def _key(path: Path) -> str:
    return os.path.realpath(path)


class RunLock:
    """The lock of one run, held through the workspace's connector (local or SSH)."""

    def __init__(self, connector, path: Path, max_delay: int = 30):
        self.connector = connector
        self.path = path
        self._lock = connector.lock(path, max_delay)
        self.held = False

    def acquire(self) -> None:
        # Known as ours before it is taken: a reader of this process that probed
        # in between would open the file and, closing it, drop our new lock.
        if self.connector.is_local:
            with _HELD_GUARD:
                _HELD.add(_key(self.path))
        try:
            self._lock.__enter__()
        except BaseException:
            if self.connector.is_local:
                with _HELD_GUARD:
                    _HELD.discard(_key(self.path))
            raise
        self.held = True

    def release(self) -> None:
        """Release the lock (once; later calls do nothing)."""
        if not self.held:
            return
        self.held = False
        if self.connector.is_local:
            with _HELD_GUARD:
                _HELD.discard(_key(self.path))
        self._lock.__exit__(None, None, None)


def lock_is_held(path: Path) -> bool | None:
    """Whether some process holds the lock file ``path`` (None: there is no such file).

    A shared lock is tried, without waiting, on a read-only descriptor (a
    reader needs no write access to the workspace), of both kinds: ``lockf``
    (ours, through ``fasteners``) and ``flock`` (the reference's ``filelock``
    on ``WS/experiments/<name>/lock``); Linux keeps the two apart. A path that
    is not a regular file (a FIFO, a device, a symbolic link) tells nothing (None).
    """
    with _HELD_GUARD:
        if _key(path) in _HELD:
            return True
    try:
        # Never blocks (a FIFO planted there), never follows a last symbolic link.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:
        return None  # unreadable, a link, a socket: nothing can be told
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO or a device is no lock: nothing can be told
        for take in (fcntl.lockf, fcntl.flock):
            try:
                take(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True  # EAGAIN / EACCES / EWOULDBLOCK: held by another process
            take(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
