"""Daemon worker threads that run a host's blocking calls for the event loop.

Every job-folder operation, local or remote, is awaited through them
(``Connector.call``). Daemon threads rather than a ThreadPoolExecutor: a call
waiting for a lost link never keeps the interpreter from exiting, and calls
made while the interpreter shuts down are still served.
"""

from __future__ import annotations

import _thread
import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Workers"]


class Workers:
    """Up to ``count`` daemon threads, started as calls need them."""

    def __init__(self, name: str, count: int):
        self.name = name
        self.count = max(1, count)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[str] = []  # names of the threads started
        self.busy = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if len(self.threads) < self.count and self.busy >= len(self.threads):
                # ``_thread``: ``Thread.start()`` waits until the new thread runs, which
                # on a loaded machine stalls the caller (the scheduler's loop) for ms.
                name = f"{self.name}-{len(self.threads)}"
                self.threads.append(name)
                _thread.start_new_thread(self._run, (name,))
            self.busy += 1
        self.queue.put((loop, future, fn, args))
        return future

    def _run(self, name: str) -> None:
        threading.current_thread().name = name  # a daemon thread, named for debugging
        while True:
            loop, future, fn, args = self.queue.get()
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                result, error = None, exc
            with self._lock:
                self.busy -= 1
            try:
                loop.call_soon_threadsafe(_resolve, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
