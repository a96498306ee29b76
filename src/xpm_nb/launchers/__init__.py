"""Launchers: how a job's process is started on a compute resource, and followed.

The protocol between the scheduler and a launcher:

1. ``await launcher.attach(job)``: a job this launcher started earlier and
   still follows (a SLURM job recorded in the job folder before a kernel
   restart) comes back as a handle; ``None`` means "nothing to attach".
2. ``await launcher.launch_async(job, env)`` starts the job and returns a
   :class:`ProcessHandle`; ``await handle.recorded(job)`` returns once the
   start is on disk, so that another scheduler would find it (the scheduler
   holds the job's launch lock until then).
3. ``await handle.wait(on_state)`` follows the job until it ends, calling
   ``on_state`` with each :class:`ProcessState` it enters (a SLURM job is
   ``SCHEDULED`` while pending, then ``RUNNING``), and returns a
   :class:`ProcessExit`: the exit code, the launcher's reason when it knows
   better than the code (time limit, out of memory, node failure) and
   whether a time limit ended it (a resumable task is then retried).
4. ``handle.kill()`` stops it (a process group, ``scancel``...).

The job process itself writes ``<name>.done`` / ``<name>.failed``; the
scheduler writes ``<name>.failed`` from the :class:`ProcessExit` when the
process could not (killed, timed out).
"""

from __future__ import annotations

import asyncio
import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["Launcher", "ProcessHandle", "ProcessExit", "ProcessState", "check_env_name"]

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

    @abstractmethod
    def poll(self) -> int | None:
        """The exit code, or None while the job is queued or running."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the job (it then ends as cancelled)."""

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


class Launcher(ABC):
    """Base class of launchers (a connector plus a way to start processes)."""

    def __init__(self, connector=None, *, priority: float = 0):
        from ..connectors.local import LocalConnector

        self.connector = connector or LocalConnector.instance()
        self.priority = priority
        self.environ: dict[str, str] = {}

    @staticmethod
    def get(path: Path) -> Launcher:
        """The default launcher for a path (the direct launcher)."""
        from .direct import DirectLauncher

        return DirectLauncher()

    def setenv(self, key: str, value: str) -> None:
        self.environ[key] = value

    def onSubmit(self, job) -> None:  # noqa: N802, B027 - the reference's name; optional hook
        """Called when a job is submitted (e.g. to add token dependencies)."""

    @abstractmethod
    def launcher_info_code(self) -> str:
        """Python code setting up launcher information in the job process."""

    @abstractmethod
    def scriptbuilder(self):
        """Builds the command that runs a job."""

    def processbuilder(self):
        """By default, the connector's process builder."""
        return self.connector.processbuilder()

    @abstractmethod
    def launch(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the job's process (blocking)."""

    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the job's process from the event loop (default: :meth:`launch`)."""
        return self.launch(job, env)

    def slots(self):
        """The pool of job slots this launcher's jobs take while they run.

        None (the default) means no limit: a cluster queues jobs itself. Else a
        :class:`~xpm_nb.launchers.slots.JobSlots` counted per host: the
        scheduler awaits ``acquire(job)`` before starting a job's process (or
        calls ``follow(job)`` for one found running elsewhere) and calls
        ``release(job)`` when the process has ended.
        """
        return None

    async def attach(self, job) -> ProcessHandle | None:
        """A handle on a job this launcher started earlier and that has no result yet.

        Called by the scheduler (under the job's launch lock) before launching,
        so that a new kernel follows a queued or running job instead of
        starting it twice. The default finds nothing: local processes are
        followed by their pid file.
        """
        return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_env_name(name, where: str = "environment variable") -> str:
    """``name`` if it can name an environment variable, else an ``InvalidArgumentError``.

    Names go into shell scripts (SLURM's ``export NAME=...``): anything but
    letters, digits and ``_`` could run a command there.
    """
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        msg = (f"{where} name {name!r}: expected letters, digits and '_' (not starting "
               f"with a digit). Fix: rename it, e.g. MY_SETTING")
        raise InvalidArgumentError(msg)
    return name
