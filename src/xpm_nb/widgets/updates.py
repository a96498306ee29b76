"""Coalesced updates: many job changes, at most one flush per interval.

The scheduler calls its listeners on its loop (in a notebook, the loop of
the scheduler's own thread, so that cells that block the kernel do not stop
it) for every state change and progress line. A widget's listener only marks
the job dirty and arms a timer with ``loop.call_later``; the timer's flush
sends one message for everything that changed meanwhile, from that thread
(ipykernel sends comm messages from any thread). So a widget sends at most
``1 / interval`` updates a second whatever the number of jobs, and a listener
never does more than a set insertion. A mark from another thread (a view's
request handled on the kernel's thread) is handed to the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Coalescer", "UPDATE_INTERVAL"]

UPDATE_INTERVAL = 0.1  # seconds: at most 10 flushes a second per widget


class Coalescer:
    """Calls ``flush()`` on ``loop`` at most once per ``interval``, soon after a mark."""

    def __init__(self, flush: Callable[[], None], interval: float = UPDATE_INTERVAL):
        self.flush = flush
        self.interval = interval
        self.flushes = 0  # how many times flush ran (for tests and benchmarks)
        self._handle: asyncio.TimerHandle | None = None
        self._last = float("-inf")
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def mark(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Ask for a flush on ``loop`` (now if the loop is gone)."""
        if self._handle is not None:
            return
        if loop is None or loop.is_closed():
            self._run()  # a closed script loop: nobody else will run the timer
            return
        if loop.is_running() and asyncio._get_running_loop() is not loop:  # noqa: SLF001
            loop.call_soon_threadsafe(self.mark, loop)  # from another thread
            return
        delay = max(0.0, self._last + self.interval - loop.time())
        self._loop = loop
        self._handle = loop.call_later(delay, self._run)

    def _run(self) -> None:
        self._handle = None
        loop = self._loop
        if loop is not None and not loop.is_closed():
            self._last = loop.time()
        self.flushes += 1
        self.flush()

    def flush_now(self) -> None:
        """Flush at once (cancelling an armed timer)."""
        self.cancel()
        self._run()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
