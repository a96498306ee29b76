"""Job slots: how many jobs a launcher runs at once on its host.

A hundred trivial jobs started together on a two-core laptop make every
process on the machine wait for the CPU, the notebook kernel included (its
loop then stalls for hundreds of milliseconds). So a local launcher runs at
most as many jobs at a time as the machine has cores, unless told otherwise;
the others stay READY, in submission order, until a slot frees.

Slots are counted per event loop (a script opens a private loop per
experiment; asyncio primitives belong to one loop) and per pool: every
local launcher without its own ``max_jobs`` shares the host's pool.
"""

from __future__ import annotations

import asyncio
import os
import weakref

from ..errors import XPMError

__all__ = ["default_max_jobs", "JobSlots", "MAX_JOBS_ENV"]

#: Environment variable overriding the number of local jobs run at once
#: (a positive integer, or 0 for no limit).
MAX_JOBS_ENV = "XPM_NB_MAX_JOBS"


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
            raise XPMError(msg) from None
        return value or None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class JobSlots:
    """A pool of at most ``size`` running jobs (None: unlimited), per event loop."""

    def __init__(self, size: int | None):
        self.size = size
        self._by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.size)
        return semaphore

    async def acquire(self) -> None:
        """Wait for a free slot (returns at once when unlimited)."""
        if self.size is not None:
            await self._semaphore().acquire()

    def release(self) -> None:
        if self.size is not None:
            self._semaphore().release()

    def running(self) -> int:
        """Slots taken on the current loop (for tests and displays)."""
        if self.size is None:
            return 0
        semaphore = self._by_loop.get(asyncio.get_running_loop())
        return 0 if semaphore is None else self.size - semaphore._value
