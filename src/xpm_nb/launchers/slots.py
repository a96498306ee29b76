"""Job slots: how many jobs run at once on a host.

A hundred trivial jobs started together on a two-core laptop make every
process on the machine wait for the CPU, the notebook kernel included (its
loop then stalls for hundreds of milliseconds). So a local launcher runs a
job only while fewer jobs run on the machine than it has cores, unless told
otherwise (``max_jobs``, ``$XPM_NB_MAX_JOBS``); the others stay READY, in
submission order, until a slot frees.

Why per host, not per process: the CPU is the machine's. Counted per process,
two notebooks on one machine each ran their own ``max_jobs``, and after a
kernel restart the jobs still running from the dead kernel (followed by the
new one) took no slot, so 4 jobs ran with 2 slots. The running jobs of every
driver of the host are therefore counted in one small file,
``$XPM_NB_SLOTS_DIR/<hostname>.json``, by default in ``slots/`` of the
connector's folder, next to its tokens
(``~/.local/share/xpm_nb/slots/<hostname>.json``): named after the host
because a home folder is often shared by the nodes of a cluster, each with
its own cores. It is a token file of ``xpm_nb/tokens.py``: holders
``{job folder: [1, driver pid]}`` changed under a file lock, a holder kept
while its driver lives *or its job still runs* (a kernel killed with kill -9
leaves its jobs running, and their slots taken), dropped once both are gone.
Each pool checks that shared count against its own size, so kernels with
different ``max_jobs`` share one count. A job found running (started by a
process that took no slot) is recorded by :meth:`JobSlots.follow` and
counts, without waiting.

The scheduler awaits ``acquire(job)`` before starting a job's process, calls
``follow(job)`` for a job found running elsewhere, and ``release(job)`` once
the process has ended.

Within a process, the jobs waiting for a pool queue in the order they asked
(only the first in line reads the file) and poll a full pool with a backoff
(10 ms doubling to 250 ms; an unchanged file answers from the last read), or
retry at once when this process frees a slot. The file is read and written by
one worker thread per file, never on the event loop, in the order the calls
were made: a ``release``/``follow`` is seen by every later ``acquire``.

On an SSH host (a ``DirectLauncher`` with a remote connector and
``max_jobs``) the same file lives on that host, under the connector's folder,
and is changed by the connection's agent (as remote tokens are).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import socket
import threading
import weakref
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["default_max_jobs", "host_slots", "JobSlots", "MAX_JOBS_ENV", "SLOTS_DIR_ENV",
           "slots_dir"]

logger = logging.getLogger(__name__)

#: Environment variable overriding the number of local jobs run at once
#: (a positive integer, or 0 for no limit).
MAX_JOBS_ENV = "XPM_NB_MAX_JOBS"

#: Environment variable naming the folder of the host's slot file (``<hostname>.json``).
SLOTS_DIR_ENV = "XPM_NB_SLOTS_DIR"

POLL_MIN, POLL_MAX = 0.01, 0.25  # seconds between two reads of a full pool
_UNBOUNDED = 1 << 62  # the "total" of a remote hold: never refused


def default_max_jobs() -> int | None:
    """The host's default: ``$XPM_NB_MAX_JOBS`` if set (0: no limit), else the usable cores."""
    raw = os.environ.get(MAX_JOBS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            msg = (f"{MAX_JOBS_ENV}={raw!r}: expected a number of jobs run at once "
                   f"(0 for no limit). Fix: export {MAX_JOBS_ENV}=4, for example")
            raise InvalidArgumentError(msg) from None
        return value or None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def slots_dir(connector=None) -> Path:
    """The folder of this host's slot file: ``$XPM_NB_SLOTS_DIR``, else ``slots/`` in
    the (local) connector's folder, next to its ``tokens/``."""
    env = os.environ.get(SLOTS_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    if connector is None:
        from ..connectors.local import LocalConnector

        connector = LocalConnector.instance()
    return Path(connector.localpath) / "slots"


def _file_name(hostname: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", hostname or "localhost") + ".json"


def _key(job) -> str:
    """A job's holder key: its folder, as a path of the host that runs it."""
    path = job.path
    return getattr(path, "hostpath", None) or str(path)


# --- the host's holder file, one per process ---------------------------------------


class _Holders:
    """The host's slot file, as this process uses it: every operation runs on one
    worker thread of its own, in the order it was asked for."""

    def __init__(self, name: str):
        self._worker = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"xpm_nb slots {name}")
        self._guard = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    # Blocking operations (run on the worker).
    def try_acquire(self, key: str, size: int) -> bool:
        raise NotImplementedError

    def hold(self, key: str) -> None:
        raise NotImplementedError

    def release(self, key: str) -> None:
        raise NotImplementedError

    def used(self) -> int:
        raise NotImplementedError

    # Scheduling them.
    def submit(self, fn, *args) -> concurrent.futures.Future:
        return self._worker.submit(fn, *args)

    def waiter(self) -> asyncio.Future:
        """A future of the running loop, resolved when this process next frees a slot."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._guard:
            self._waiters.append((loop, future))
        return future

    def forget(self, future: asyncio.Future) -> None:
        with self._guard:
            self._waiters = [(lp, f) for lp, f in self._waiters if f is not future]

    def freed(self) -> None:
        """Wake every waiter (from the worker, after a release)."""
        with self._guard:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # its loop is closed
                pass

    def release_and_wake(self, key: str) -> None:
        try:
            self.release(key)
        finally:
            self.freed()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class _LocalHolders(_Holders):
    """``<folder>/<hostname>.json``: a :class:`CounterToken` file, whose ``total`` is
    each caller's pool size."""

    def __init__(self, folder: Path):
        super().__init__(folder.name)
        self.path = folder / _file_name(socket.gethostname())
        self._tokens: dict[int, object] = {}  # by pool size (each keeps its own cache)

    def _token(self, size: int):
        token = self._tokens.get(size)
        if token is None:
            from ..tokens import CounterToken  # creates the folder: on the worker

            token = self._tokens[size] = CounterToken("slots", self.path, size)
        return token

    def try_acquire(self, key: str, size: int) -> bool:
        return self._token(size).try_acquire(key, 1)

    def hold(self, key: str) -> None:
        self._token(1).hold(key, 1)

    def release(self, key: str) -> None:
        self._token(1).release(key, pid=os.getpid())  # another process's entry stays

    def used(self) -> int:
        return self._token(1).used()


class _RemoteHolders(_Holders):
    """``<connector folder>/slots/<hostname>.json`` on an SSH host, changed by the
    connection's agent (a remote token: holder pid = the agent)."""

    def __init__(self, connector):
        super().__init__(str(getattr(connector, "spec", "remote")))
        self.connector = connector

    def _token(self, size: int):
        from ..connectors.ssh.locks import RemoteToken

        path = self.connector.localpath / "slots" / _file_name(self.connector.hostname)
        return RemoteToken(self.connector, "slots", path, size)

    def try_acquire(self, key: str, size: int) -> bool:
        return self._token(size).try_acquire(key, 1)

    def hold(self, key: str) -> None:
        self._token(_UNBOUNDED).try_acquire(key, 1)

    def release(self, key: str) -> None:
        self._token(1).release(key)

    def used(self) -> int:
        return self._token(1).used()


_LOCAL: dict[Path, _LocalHolders] = {}
_REMOTE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_REGISTRY_GUARD = threading.Lock()


def _local_holders(folder: Path) -> _LocalHolders:
    folder = Path(os.path.abspath(folder))
    with _REGISTRY_GUARD:
        holders = _LOCAL.get(folder)
        if holders is None:
            holders = _LOCAL[folder] = _LocalHolders(folder)
        return holders


def _remote_holders(connector) -> _RemoteHolders:
    with _REGISTRY_GUARD:
        holders = _REMOTE.get(connector)
        if holders is None:
            holders = _REMOTE[connector] = _RemoteHolders(connector)
        return holders


def _forget_after_fork() -> None:
    global _REGISTRY_GUARD
    _REGISTRY_GUARD = threading.Lock()
    _LOCAL.clear()  # their worker threads do not exist in the child
    _REMOTE.clear()
    _POOLS.clear()


# --- pools -----------------------------------------------------------------------------


class JobSlots:
    """A pool of ``size`` slots (None: unlimited) on a host shared by every process.

    A job takes a slot with ``await acquire(job)`` before its process starts and
    gives it back with ``release(job)`` once the process has ended; a job found
    running (started elsewhere) is recorded with ``follow(job)``. A slot is the
    job's folder in the host's slot file: a job holds at most one, whichever
    pool or process recorded it.

    By default the pool is the local host's (``slots_dir()``); ``folder`` names
    another folder for its ``<hostname>.json``, ``connector`` a remote host.
    """

    def __init__(self, size: int | None, folder: Path | None = None, *, connector=None):
        self.size = size
        self._folder = folder
        self._connector = connector
        self._holders_: _Holders | None = None
        self._turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> Lock

    def __repr__(self) -> str:
        return f"JobSlots({self.size})"

    @property
    def path(self):
        """The slot file (None for an unlimited pool)."""
        holders = self._holders()
        return None if holders is None else getattr(holders, "path", None)

    def _holders(self) -> _Holders | None:
        if self.size is None:
            return None
        if self._holders_ is None:
            connector = self._connector
            if connector is not None and not getattr(connector, "is_local", True):
                self._holders_ = _remote_holders(connector)
            else:
                folder = self._folder if self._folder is not None else slots_dir(connector)
                self._holders_ = _local_holders(Path(folder))
        return self._holders_

    def _turn(self) -> asyncio.Lock:
        """This loop's queue of waiting jobs (asyncio locks wake their waiters in order)."""
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = asyncio.Lock()
        return turn

    async def acquire(self, job) -> None:
        """Wait until the host runs fewer jobs than ``size``, then record ``job`` as
        running (at once when unlimited, or when the job already holds a slot).

        Jobs of this process waiting on this pool get their slot in the order they
        called; cancelling a waiting ``acquire`` leaves nothing recorded.
        """
        holders = self._holders()
        if holders is None:
            return
        key = _key(job)
        async with self._turn():  # only the first in line reads the file
            delay = POLL_MIN
            while True:
                woken = holders.waiter()  # before reading: a release meanwhile wakes us
                try:
                    if await self._try(holders, key):
                        return
                    await asyncio.wait([woken], timeout=delay)
                finally:
                    holders.forget(woken)
                if not woken.done():
                    delay = min(delay * 2, POLL_MAX)

    async def _try(self, holders: _Holders, key: str) -> bool:
        attempt = holders.submit(holders.try_acquire, key, self.size)
        try:
            return await asyncio.wrap_future(attempt)
        except asyncio.CancelledError:
            # Cancelled while the worker reads the file: a slot it grants is given back.
            def undo(done: concurrent.futures.Future) -> None:
                if not done.cancelled() and done.exception() is None and done.result():
                    holders.submit(holders.release_and_wake, key)

            attempt.add_done_callback(undo)
            raise

    def release(self, job):
        """Give ``job``'s slot back. A local entry recorded by another process (a job
        two drivers run: one launched it, the other follows it) is left to it.

        Done on the pool's worker thread, before any later ``acquire`` reads the
        file; on an event loop this returns at once an asyncio future to await if
        the caller wants it done (failures are logged either way); elsewhere it
        returns when done.
        """
        holders = self._holders()
        if holders is None:
            return None
        return _scheduled(holders.submit(holders.release_and_wake, _key(job)),
                          f"giving back the slot of {_key(job)}")

    def follow(self, job):
        """Count ``job``, already running (started by another process), against the
        host's slots without waiting: recorded as holder unless already one.

        Like :meth:`release`: done on the worker before any later ``acquire``;
        returns an awaitable on an event loop. Give it back with :meth:`release`
        once the job has ended.
        """
        holders = self._holders()
        if holders is None:
            return None
        return _scheduled(holders.submit(holders.hold, _key(job)),
                          f"recording the running job {_key(job)}")

    def running(self) -> int:
        """Jobs holding a slot on the host, all processes and pools (tests, displays)."""
        holders = self._holders()
        if holders is None:
            return 0
        return holders.submit(holders.used).result()


def _scheduled(done: concurrent.futures.Future, what: str):
    """An operation given to the worker: logged if it fails; an asyncio future on a
    loop (awaiting it is optional), else waited for."""

    def log(f: concurrent.futures.Future) -> None:
        if not f.cancelled() and f.exception() is not None:
            logger.warning("job slots: %s failed: %s", what, f.exception())

    done.add_done_callback(log)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        done.result()
        return None
    future = asyncio.wrap_future(done)
    future.add_done_callback(lambda f: f.cancelled() or f.exception())  # logged above
    return future


_POOLS: dict[tuple, JobSlots] = {}  # by (host file, size): shared by the launchers


def host_slots(size: int | None, connector=None) -> JobSlots:
    """The pool of ``size`` slots of the connector's host (the local one by default),
    one object per host file and size in this process (so one queue)."""
    if size is None:
        key: tuple = (None,)
    elif connector is not None and not getattr(connector, "is_local", True):
        key = ("remote", id(connector), size)
    else:
        folder = Path(os.path.abspath(slots_dir(connector)))
        key = ("local", folder, size)
    with _REGISTRY_GUARD:
        pool = _POOLS.get(key)
        if pool is None or (key[0] == "remote" and pool._connector is not connector):
            if key[0] == "local":
                pool = JobSlots(size, folder)
            else:
                pool = JobSlots(size, connector=connector)
            _POOLS[key] = pool
        return pool


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
