"""Handles on started jobs: what launchers return and connectors implement.

A leaf module (it imports nothing of xpm_nb but :mod:`xpm_nb.process.pidwait`,
lazily): connectors and launchers both import it, without a cycle. The old
names (``xpm_nb.launchers.ProcessHandle``...) are re-exports of these.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProcessHandle", "ProcessExit", "ProcessState", "POLL_MIN", "POLL_MAX"]

POLL_MIN, POLL_MAX = 0.01, 0.25  # seconds between two polls of a local process


class ProcessState(enum.Enum):
    """Where a started job is, as its launcher sees it."""

    SCHEDULED = "scheduled"  # accepted by a cluster, waiting for resources
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True)
class ProcessExit:
    """How a job's process ended.

    ``code`` is the exit code (negative: killed by that signal; None: unknown),
    ``reason`` the launcher's explanation when it knows more than the code
    (e.g. ``"timeout: SLURM job 12 reached its time limit"``), ``timeout``
    says that a time limit ended the job (a resumable task is retried), and
    ``by_launcher`` that the launcher ended it (time limit, cancellation, out
    of memory, node failure): its reason then replaces the one the job wrote
    on its way out ("terminated by SIGTERM"). ``dependency_failed`` says that
    the launcher gave the job up because a job it depends on failed (SLURM:
    ``DependencyNeverSatisfied``): waiting on it raises ``DependencyFailedError``.
    """

    code: int | None
    reason: str | None = None
    timeout: bool = False
    by_launcher: bool = False
    dependency_failed: bool = False


class ProcessHandle(ABC):
    """A started job (a local process, a SLURM job...), followed by the scheduler.

    Subclasses implement :meth:`poll` and :meth:`kill`; launchers whose jobs
    can be queued or whose end is known better than by an exit code
    (SLURM) override :meth:`state` and :meth:`wait`.
    """

    pid: int | None = None  # a local process id, when there is one
    # When the job's process started, if the handle knows it better than the moment
    # it was seen running (a queued job found running one poll later): set before
    # ``on_state(RUNNING)``.
    started_at: float | None = None

    @abstractmethod
    def poll(self) -> int | None:
        """The exit code, or None while the job is queued or running."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the job (it then ends as cancelled): called off the event loop."""

    def state(self) -> ProcessState:
        """Queued, running or finished, as far as known right now."""
        return ProcessState.RUNNING if self.poll() is None else ProcessState.FINISHED

    async def recorded(self, job) -> None:
        """Return once another scheduler could find the job from its folder.

        For a local process: once its pid file is written (or it ended).
        """
        paths = job.paths
        while not (paths.pid.exists() or paths.done.exists() or paths.failed.exists()):
            if self.poll() is not None:
                return
            await asyncio.sleep(POLL_MIN)

    async def wait(
        self, on_state: Callable[[ProcessState], None] | None = None
    ) -> ProcessExit:
        """Follow the job until it ends; ``on_state`` hears each state it enters."""
        if on_state is not None:
            on_state(ProcessState.RUNNING)
        delay = POLL_MIN
        while (code := self.poll()) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)
        return ProcessExit(code)
