"""Waiting for a local process to end without polling it (Linux pidfd).

A pidfd (``os.pidfd_open``, Linux >= 5.3) becomes readable when its process
ends, for any process of the host, not only our children: the asyncio loop
wakes at once instead of polling. Where there is no pidfd (another system, a
loop without ``add_reader``), the process is polled with the backoff of
:meth:`ProcessHandle.wait`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from ..layout import pid_alive
from . import POLL_MAX, POLL_MIN

__all__ = ["PidWatch", "wait_exit"]


class PidWatch:
    """A local process whose end is awaited (see :func:`wait_exit`).

    The pidfd is opened by the constructor: for a child process, create the
    watch before anything can reap it (a reaped pid may be reused).
    ``ended``: the check used when polling (default: the pid is no longer a
    live process; a child's own handle passes ``popen.poll() is not None``).
    """

    def __init__(self, pid: int, ended: Callable[[], bool] | None = None):
        self.pid = pid
        self._ended = ended or (lambda: not pid_alive(pid))
        self._gone = False  # the pid named no process when the watch began
        self._fd: int | None = None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._gone = True
        except (AttributeError, OSError, OverflowError):
            pass  # no pidfd here (or a pid no process can have): poll

    async def wait(self) -> bool:
        """Return once the process has ended.

        True if its end was known without polling (a pidfd, or the pid was
        already gone), False if it was found by polling. The pidfd is used up.
        """
        if self._gone:
            return True
        fd = self._fd
        if fd is None:
            await self._poll()
            return False
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        try:
            loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
        except (NotImplementedError, RuntimeError):  # a loop without add_reader
            self.close()
            await self._poll()
            return False
        try:
            await ended  # readable at once if it has already ended
        finally:
            loop.remove_reader(fd)
            self.close()
        return True

    async def _poll(self) -> None:
        delay = POLL_MIN
        while not self._ended():
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)

    def close(self) -> None:
        """Release the pidfd (a later :meth:`wait` polls)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            self.close()


async def wait_exit(pid: int) -> bool:
    """Return once the local process ``pid`` has ended (any process, not only a child).

    A pid that names no process ends the wait at once. True if the end was
    known without polling (pidfd), False if it was found by polling.
    """
    return await PidWatch(pid).wait()

