"""``Launcher``: how a job's process is started on a compute resource, and followed.

Everything the rest of the package asks of a launcher is a method of
:class:`Launcher`, documented there; nothing reaches into a launcher's
module (SLURM's lives in ``launchers/slurm/``). ``docs/architecture.md``
("How to add a launcher") walks through them; ``launchers/command.py`` is a
worked example.

The scheduler's side, for one run of a job:

1. ``onSubmit(job)`` when the job is submitted;
2. ``await queue_after(job)``: the dependencies the scheduler must wait for
   (a cluster launcher may hand some to the cluster);
3. ``slots()``: the pool bounding how many of its jobs run at once;
4. ``await attach(job)`` (under the job's launch lock): a job this launcher
   started before a kernel restart, followed instead of started twice;
5. ``await launch_async(job, env)``: start it, returning a
   :class:`~xpm_nb.process.ProcessHandle`, whose ``recorded``, ``wait``
   (state changes, then a :class:`~xpm_nb.process.ProcessExit`) and ``kill``
   (cancel) the scheduler then uses.

The job process itself writes ``<name>.done`` / ``<name>.failed``; the
scheduler writes ``<name>.failed`` from the ``ProcessExit`` when the
process could not (killed, timed out).
"""

from __future__ import annotations

import abc
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import UnsupportedError
from ..process import ProcessHandle

__all__ = ["Launcher", "Described", "Description", "connector_label"]


@dataclass
class Description:
    """What a notebook card shows of an object: a kind, facts and tables, as plain
    values (the widgets lay them out and escape them; the core imports no widget)."""

    kind: str
    fields: list[tuple[str, Any]] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)

    def add(self, name: str, value: Any) -> None:
        self.fields.append((name, value))

    def table(self, caption: str, headers: list[str], rows: list[list[str]]) -> None:
        self.tables.append((caption, headers, rows))


class Described:
    """An object shown as a card in a notebook (launchers, their options)."""

    def describe(self) -> Description:
        """The facts its card shows (no network I/O: displays must stay quick)."""
        raise NotImplementedError


async def _launch_on_workers(self, job, env: dict[str, str]) -> ProcessHandle:
    """``launch_async`` of a launcher that defines a blocking ``launch`` only."""
    return await self.connector.call(self.launch, job, env)


def connector_label(connector) -> str:
    """The connector's host without network I/O (an SSH connector's spec, not its hostname)."""
    if connector is None:
        return ""
    if getattr(connector, "is_local", False):
        import socket

        return f"local ({socket.gethostname()})"
    return str(connector)


class Launcher(Described, ABC):
    """Base class of launchers (a connector plus a way to start processes).

    Only :meth:`launch_async` must be written; every other hook has a default
    that fits a launcher of local processes.
    """

    #: Keys of a ``launchers.yaml`` entry of this launcher's type (besides name,
    #: type, tags, hosts, priority), given to :meth:`from_yaml`.
    yaml_keys: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A launcher written for the earlier base class defines a blocking
        # ``launch(job, env)`` only: started on the connector's worker threads.
        if "launch" in vars(cls) and getattr(cls.launch_async, "__isabstractmethod__", False):
            cls.launch_async = _launch_on_workers
            abc.update_abstractmethods(cls)

    def __init__(self, connector=None, *, priority: float = 0):
        from ..connectors.local import LocalConnector

        self.connector = connector or LocalConnector.instance()
        self.priority = priority
        self.environ: dict[str, str] = {}

    # --- the scheduler's hooks -------------------------------------------------

    def onSubmit(self, job) -> None:  # noqa: N802, B027 - the reference's name; optional hook
        """Called when a job is submitted (e.g. to add token dependencies)."""

    async def queue_after(self, job) -> list:
        """The dependencies of ``job`` the scheduler must see end before launching it.

        Default: all of them. A cluster launcher returns fewer when the cluster
        itself holds the job until the others end (SLURM's ``--dependency``).
        """
        return list(job.dependencies)

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
        starting it twice. The default finds nothing: a job process that runs
        has written its pid file, which the scheduler follows itself.
        """
        return None

    @abstractmethod
    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the job (``python -m xpm_nb.run <job folder>`` on its host, with ``env``
        added to the host's environment) without blocking the event loop.

        The handle's ``recorded(job)`` must return once another scheduler could
        find the job from its folder (pid file, a cluster's job record); its
        ``wait`` follows it to its end and ``kill`` cancels it.
        """

    # --- other modules' hooks ----------------------------------------------------

    def describe(self) -> Description:
        """The launcher's notebook card. Default: host, priority and environment."""
        description = Description(type(self).__name__)
        description.add("host", connector_label(self.connector))
        if self.priority:
            description.add("priority", self.priority)
        description.add("environment", ", ".join(sorted(self.environ)))
        return description

    def for_host(self, match, options: dict) -> Launcher:
        """The launcher the launcher finder returns when one of this launcher's hosts
        satisfies a requirement (``match``: a ``HostMatch``; ``options``: the host's
        own launcher options from the launchers file).

        Default: this launcher. A cluster launcher asks the resources requested
        (duration, GPUs, cores, memory) of the cluster.
        """
        return self

    @classmethod
    def from_yaml(cls, settings: dict) -> Launcher:
        """The launcher of a ``launchers.yaml`` entry (``settings``: its keys of
        :attr:`yaml_keys`). Errors name the key; the caller adds the file and line."""
        msg = (f"{cls.__name__} cannot be declared in launchers.yaml. Fix: declare it "
               "in launchers.py (LAUNCHERS = [LauncherEntry(...)])")
        raise UnsupportedError(msg)

    def check_host_options(self, options: dict) -> None:  # noqa: B027 - optional hook
        """Refuse the launcher options of a host of the launchers file that
        :meth:`for_host` could not use (checked when the file is read)."""

    @classmethod
    def job_deadline(cls) -> float | None:
        """Called in the job process: when (``time.time()``) the launcher will stop
        the job, if it knows better than the deadline given at its start
        (SLURM asks ``squeue``: the limit may have changed). Default: None."""
        return None

    # --- the reference's API ------------------------------------------------------

    @staticmethod
    def get(path: Path) -> Launcher:
        """The default launcher for a path (the direct launcher)."""
        from .direct import DirectLauncher

        return DirectLauncher()

    def setenv(self, key: str, value: str) -> None:
        self.environ[key] = value

    def launcher_info_code(self) -> str:
        """Python code the reference puts in its job scripts; xpm_nb's job processes
        ask :meth:`job_deadline` instead (kept for code that calls it)."""
        return ""

    def scriptbuilder(self):
        """Builds the command that runs a job (launchers that start processes)."""
        msg = (f"{type(self).__name__}.scriptbuilder(): this launcher builds no job command "
               "line. Fix: ask its launch_async() to start the job")
        raise UnsupportedError(msg)

    def processbuilder(self):
        """By default, the connector's process builder."""
        return self.connector.processbuilder()
