"""Connectors: how files, processes and locks are reached on a host.

A job folder lives on the host of its workspace's connector; the scheduler,
the job (``scheduler/jobs.py``) and the followers reach it only through the
methods below. ``LocalConnector`` maps them onto the local file system (the
fast path, no extra system call); ``SshConnector`` onto SFTP and commands run
over SSH.

Paths given to a connector are paths *on its host* (plain ``pathlib`` paths);
``SshPath`` names a remote path together with its host for users.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["Connector", "ProcessBuilder"]


class Connector(ABC):
    """Access to a host: files, processes, locks and tokens.

    Subclasses implement the abstract methods; ``call`` runs a blocking
    operation without blocking the event loop (a thread for remote hosts).
    """

    #: True when paths are on this machine (the scheduler then skips ``call``).
    is_local: bool = False

    # --- identity -------------------------------------------------------------

    @property
    @abstractmethod
    def hostname(self) -> str:
        """The host's name as the job process sees it (``socket.gethostname()``)."""

    # --- locks and tokens -----------------------------------------------------

    @abstractmethod
    def lock(self, path: Path, max_delay: int = -1):
        """A process lock on ``path`` (``with connector.lock(p): ...``)."""

    @abstractmethod
    def async_lock(self, path: Path, max_delay: int = -1):
        """A lock usable with ``async with``; waits without blocking the loop."""

    @abstractmethod
    def createtoken(self, name: str, total: int):
        """A counted resource shared by every process of the host."""

    # --- files ------------------------------------------------------------------

    @abstractmethod
    def exists(self, path: Path) -> bool: ...

    @abstractmethod
    def is_dir(self, path: Path) -> bool: ...

    @abstractmethod
    def read_bytes(self, path: Path) -> bytes:
        """The file's content (``FileNotFoundError`` if it does not exist)."""

    def read_text(self, path: Path) -> str:
        return self.read_bytes(path).decode("utf-8")

    def read_optional(self, path: Path) -> bytes | None:
        """The file's content, or None if it does not exist."""
        try:
            return self.read_bytes(path)
        except FileNotFoundError:
            return None

    @abstractmethod
    def write_atomic(self, path: Path, data: bytes | str) -> None:
        """Write a file whole or not at all (temp file in its folder, then rename)."""

    @abstractmethod
    def append(self, path: Path, data: bytes | str) -> None:
        """Append to a file (created if needed)."""

    @abstractmethod
    def mkdir(self, path: Path, parents: bool = True, exist_ok: bool = True) -> None: ...

    @abstractmethod
    def unlink(self, path: Path, missing_ok: bool = True) -> None: ...

    @abstractmethod
    def rename(self, src: Path, dst: Path) -> None:
        """Rename ``src`` to ``dst``, replacing it (atomic on one file system)."""

    @abstractmethod
    def symlink(self, target: Path | str, link: Path) -> None:
        """Create ``link`` pointing at ``target``."""

    @abstractmethod
    def rmtree(self, path: Path) -> None:
        """Remove a folder and its content (nothing if it does not exist)."""

    @abstractmethod
    def listdir(self, path: Path) -> list[str]: ...

    @abstractmethod
    def size(self, path: Path) -> int | None:
        """The file's size, or None if it does not exist."""

    @abstractmethod
    def read_range(self, path: Path, offset: int, length: int | None = None) -> bytes:
        """Bytes from ``offset`` (to the end, or ``length`` of them); b"" if missing."""

    def read_tail(self, path: Path, nbytes: int) -> bytes:
        """The last ``nbytes`` of a file (b"" if it does not exist)."""
        size = self.size(path)
        if not size:
            return b""
        return self.read_range(path, max(0, size - nbytes))

    def resolve(self, path: Path, basepath: Path | None = None) -> str:
        """``path`` as a string on the host, relative paths taken from ``basepath``."""
        path = Path(path)
        if basepath is not None and not path.is_absolute():
            path = Path(basepath) / path
        return str(path)

    def setExecutable(self, path: Path, flag: bool) -> None:  # noqa: N802 - reference name
        """Set or clear the executable bits of ``path``."""
        raise NotImplementedError(f"{type(self).__name__}.setExecutable")

    @abstractmethod
    def chmod(self, path: Path, mode: int) -> None: ...

    # --- processes -------------------------------------------------------------

    @abstractmethod
    def pid_alive(self, pid: int) -> bool:
        """Whether process ``pid`` of the host runs (a zombie does not)."""

    @abstractmethod
    def kill(self, pid: int, sig: int = signal.SIGTERM, group: bool = True) -> bool:
        """Signal a process (its whole group by default); False if it is gone."""

    @abstractmethod
    def start(self, command: Sequence[str], *, cwd: Path, env: dict[str, str],
              stdout: Path, stderr: Path):
        """Start a detached process (new session) appending to ``stdout``/``stderr``.

        Returns a ``launchers.ProcessHandle``. The process outlives the
        caller (a kernel restart, a dropped SSH link).
        """

    @abstractmethod
    def run_command_sync(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                         cwd: str | Path | None = None, timeout: float | None = None,
                         input: str | None = None) -> tuple[int, str, str]:
        """Run a short command to its end: ``(returncode, stdout, stderr)``.

        ``env`` adds to the host's environment (e.g. ``SLURM_CONF``); used by
        the SLURM launcher for ``sbatch``/``squeue`` on the connector's host.
        """

    async def run_command(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                          cwd: str | Path | None = None, timeout: float | None = None,
                          input: str | None = None) -> tuple[int, str, str]:
        """:meth:`run_command_sync` without blocking the event loop."""
        return await self.call(lambda: self.run_command_sync(
            argv, env=env, cwd=cwd, timeout=timeout, input=input))

    def follow_pid(self, pid: int):
        """A ``ProcessHandle`` on a process of the host known by its pid only."""
        raise NotImplementedError(f"{type(self).__name__}.follow_pid")

    def processbuilder(self) -> ProcessBuilder:
        return ProcessBuilder(self)

    # --- off the event loop ------------------------------------------------------

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (blocking I/O on this host) without blocking the loop."""
        return fn(*args)


class ProcessBuilder:
    """Builds a detached process on a connector's host (the reference's API)."""

    def __init__(self, connector: Connector):
        self.connector = connector
        self.command: list[str] = []
        self.environ: dict[str, str] = {}
        self.workingDirectory: Path | None = None  # noqa: N815 - reference name
        self.stdout: Path | None = None
        self.stderr: Path | None = None
        self.detach = True

    def start(self, task_mode: bool = False):
        if not self.command:
            msg = "ProcessBuilder.start: no command (set builder.command = [...])"
            raise InvalidArgumentError(msg)
        cwd = self.workingDirectory or Path("/")
        return self.connector.start(self.command, cwd=cwd, env=self.environ,
                                    stdout=self.stdout or Path("/dev/null"),
                                    stderr=self.stderr or Path("/dev/null"))
