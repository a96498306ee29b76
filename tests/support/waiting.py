"""Waiting in tests for what the scheduler does in its own thread.

Imported as ``from support.waiting import run, wait_until, ...``.

The scheduler runs on one asyncio loop in a daemon thread of the process
(``xpm_nb/scheduler/loopthread.py``), always running: a test never runs that
loop itself (``xp.loop.run_until_complete`` fails with "This event loop is
already running"). Jobs go on while the test thread blocks, so a test simply

- blocks: :func:`wait_until` polls a condition (failing at once if a process it
  depends on ends meanwhile), :func:`job_ended` waits for
  the end of a job's current run (``job._done``, a thread-safe
  ``concurrent.futures.Future`` resolved with its final ``JobState``);
- or runs a coroutine on its own loop with :func:`run` (``asyncio.run``), in
  which :func:`wait_until_async`, :func:`ended` and :func:`all_ended` do the
  same without blocking that loop.

:func:`scheduler_tasks` lists the tasks of the scheduler's loop (to check that
none is left behind).

Every wait is bounded: a timeout turns a hang into an ``AssertionError``
naming what was waited for (it is not a timing assertion). Tests poll with
these only: no loop of their own with a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run", "wait_until", "wait_until_async", "job_ended", "ended", "all_ended",
           "scheduler_tasks"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to completion on a new loop of the calling thread; its result.

    With ``timeout``, an ``AssertionError`` if it has not finished by then.
    """
    if timeout is None:
        return asyncio.run(coro)

    async def bounded():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the coroutine {coro.__qualname__} did not finish "
                                 f"within {timeout} s") from None

    return asyncio.run(bounded())


def _timed_out(timeout: float, what: str | Callable[[], str]) -> AssertionError:
    # ``what`` may be a function: the message then tells the last state seen
    return AssertionError(f"timed out after {timeout} s waiting for "
                          f"{what() if callable(what) else what}")


def _check_alive(processes, what: str | Callable[[], str]) -> None:
    for proc in processes:
        if proc.poll() is not None:
            raise AssertionError(f"process {proc.pid} ended (code {proc.returncode}) before "
                                 f"{what() if callable(what) else what}")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0,
               what: str | Callable[[], str] = "condition", step: float = 0.02, *,
               done: Callable[[T], bool] = bool, processes=()) -> T:
    """Poll ``predicate()`` (blocking this thread) until its value is ``done`` (true,
    by default); that value.

    ``AssertionError`` naming ``what`` after ``timeout`` seconds, or as soon as
    one of ``processes`` (``subprocess.Popen``: drivers the condition waits on)
    has ended.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if done(value):
            return value
        _check_alive(processes, what)
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what)
        time.sleep(step)


async def wait_until_async(predicate: Callable[[], T], timeout: float = 60.0,
                           what: str | Callable[[], str] = "condition", step: float = 0.05, *,
                           done: Callable[[T], bool] = bool) -> T:
    """:func:`wait_until` on the caller's running loop (it stays free meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what)
        await asyncio.sleep(step)


def job_ended(job, timeout: float = 60.0):
    """Block until the current run of ``job`` ends; its final ``JobState``.

    Unlike ``job.wait()``, a failed job does not raise.
    """
    try:
        return job._done.result(timeout)
    except concurrent.futures.TimeoutError:
        raise AssertionError(f"job {job.locator} ({job.state.value}) not ended "
                             f"after {timeout} s") from None


async def ended(job, timeout: float = 60.0):
    """:func:`job_ended` awaited on the caller's loop (the job's future is shielded:
    a cancelled or timed-out waiter leaves it alone)."""
    (state,) = await all_ended([job], timeout)
    return state


async def all_ended(jobs, timeout: float = 60.0) -> list:
    """Await, on the caller's loop, the end of the current run of every job of ``jobs``
    (at most ``timeout`` s in all); their final states. Failed jobs do not raise."""
    jobs = list(jobs)
    if not jobs:
        return []
    # shield: a cancelled wrapper would cancel the job's own future (wrap_future chains it)
    waiters = [asyncio.shield(asyncio.wrap_future(j._done)) for j in jobs]
    _, pending = await asyncio.wait(waiters, timeout=timeout)
    if pending:
        late = [j for j in jobs if not j._done.done()]
        raise AssertionError(f"{len(late)} of {len(jobs)} job(s) not ended after {timeout} s: "
                             + ", ".join(f"{j.locator} ({j.state.value})" for j in late[:5]))
    return [j._done.result() for j in jobs]


def scheduler_tasks() -> set:
    """The asyncio tasks not yet done on the scheduler's loop (read on its thread).

    The loop is shared by every experiment of the process: compare with a set
    taken before the test to find the tasks the test left behind.
    """
    from xpm_nb.scheduler.loopthread import call_on_loop, scheduler_loop

    loop = scheduler_loop()
    return call_on_loop(asyncio.all_tasks, loop)
