"""The scheduler's own event loop, in a daemon thread of the process.

Why a thread: a notebook cell that blocks (loading data, fitting a model in
the kernel, ``time.sleep``) stops the kernel's loop until it returns. Jobs
must keep starting, ending and being followed meanwhile, and widgets keep
updating, so the scheduler cannot live on the kernel's loop. It lives on one
loop, in one daemon thread, shared by every experiment of the process; the
caller's side only hands work over (``call_soon_threadsafe``) and waits on
thread-safe ``concurrent.futures.Future`` objects: blocking (``job.wait()``)
in any thread, or awaiting them (``await job``) on any loop, the kernel's
included. No loop is ever re-entered, so nothing depends on the kernel's own
loop policy (ipykernel 7 runs each cell as a task in a shared context).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import StateError, WaitTimeoutError

__all__ = ["scheduler_loop", "on_scheduler_thread", "call_on_loop", "run_on_loop",
           "wait_future", "ensure_not_on_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def scheduler_loop() -> asyncio.AbstractEventLoop:
    """The scheduler's loop, started on first use."""
    global _loop, _thread
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed():
            ready = threading.Event()
            new_loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=run, name="xpm_nb scheduler", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
        return _loop


def _forget_after_fork() -> None:
    # A forked child has no scheduler thread: it starts its own on first use.
    global _loop, _thread
    _loop = None
    _thread = None


os.register_at_fork(after_in_child=_forget_after_fork)


def on_scheduler_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def call_on_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the scheduler's thread and return its result.

    Called on that thread, it runs at once; elsewhere the caller blocks the
    (short) time the loop takes to get to it.
    """
    if on_scheduler_thread():
        return fn(*args)
    future: concurrent.futures.Future = concurrent.futures.Future()

    def call() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            future.set_exception(exc)

    scheduler_loop().call_soon_threadsafe(call)
    return future.result()


def run_on_loop(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future:
    """Schedule ``coro`` on the scheduler's loop; a thread-safe future of its result."""
    return asyncio.run_coroutine_threadsafe(coro, scheduler_loop())


def ensure_not_on_loop(what: str) -> None:
    """Refuse a blocking wait on the scheduler's own thread (it would wait for itself)."""
    if on_scheduler_thread():
        msg = (f"{what} blocks, and was called on the scheduler's thread (from a "
               f"watch_output callback or a listener): it would wait forever. Fix: "
               f"`await` it in a coroutine, or call it from the notebook or script")
        raise StateError(msg)


def wait_future(future: concurrent.futures.Future, timeout: float | None, what: str):
    """Block this thread until ``future`` is done (interruptible: Ctrl-C, kernel interrupt)."""
    ensure_not_on_loop(what)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        msg = f"{what}: not finished after {timeout} s (the jobs go on)"
        raise WaitTimeoutError(msg) from None
