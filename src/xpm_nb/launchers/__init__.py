"""Launchers: how a job's process is started on a compute resource."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

__all__ = ["Launcher", "ProcessHandle"]


class ProcessHandle(ABC):
    """A started job process, polled by the scheduler."""

    @abstractmethod
    def poll(self) -> int | None:
        """The exit code, or None while it runs."""

    @abstractmethod
    def kill(self) -> None: ...


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

    def onSubmit(self, job) -> None:  # noqa: N802 - the reference's name
        """Called when a job is submitted (e.g. to add token dependencies)."""

    @abstractmethod
    def launcher_info_code(self) -> str:
        """Python code setting up launcher information in the job process."""

    @abstractmethod
    def scriptbuilder(self):
        """Builds the command that runs a job."""

    def processbuilder(self):
        return self.connector

    @abstractmethod
    def launch(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the job's process."""
