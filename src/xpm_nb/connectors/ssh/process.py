"""Handles on processes of a remote host, followed through their files.

A process started by :meth:`SshConnector.start` is followed by its wrapper's
exit-code file and its pid; a job started by someone else (or before a kernel
restart) by the pid of its ``<name>.pid`` file. Everything is read again
after a dropped link: the state lives on the host, not in the connection.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import PurePosixPath

from ...process import ProcessExit, ProcessHandle, ProcessState

__all__ = ["SshProcess", "SshPidProcess"]

POLL_MIN, POLL_MAX = 0.05, 1.0  # seconds between two looks at a remote process

VANISHED = "the job process disappeared without a result (no exit code recorded)"


def _exit_code(raw: bytes) -> int | None:
    """The shell's ``$?``: 128+n means killed by signal n (negative, as Popen)."""
    try:
        code = int(raw.strip())
    except ValueError:
        return None
    if 128 < code < 128 + 65:
        return -(code - 128)
    return code


class _RemoteHandle(ProcessHandle):
    def __init__(self, connector, pid: int):
        self.connector = connector
        self.pid = pid

    def kill(self) -> None:
        if not self.connector.kill(self.pid, signal.SIGTERM, group=True):
            raise ProcessLookupError(f"no process {self.pid} on {self.connector.spec}")

    async def recorded(self, job) -> None:
        """Return once the job's pid file (or a result) is on the host, or it ended."""
        paths, c = job.paths, self.connector

        def seen() -> bool:
            return any(c.exists(p) for p in (paths.pid, paths.done, paths.failed)) or \
                self.poll() is not None

        delay = POLL_MIN
        while not await c.call(seen):
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)

    def _result(self) -> ProcessExit | None:
        raise NotImplementedError

    def poll(self) -> int | None:
        result = self._result()
        return None if result is None else (result.code if result.code is not None else -1)

    async def wait(self, on_state: Callable[[ProcessState], None] | None = None) -> ProcessExit:
        if on_state is not None:
            on_state(ProcessState.RUNNING)
        delay = POLL_MIN
        while (result := await self.connector.call(self._result)) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)
        return result


class SshProcess(_RemoteHandle):
    """A process started by :meth:`SshConnector.start` (pid = its process group)."""

    def __init__(self, connector, pid: int, exit_file: PurePosixPath):
        super().__init__(connector, pid)
        self.exit_file = exit_file

    def __repr__(self) -> str:
        return f"SshProcess({self.connector.spec!r}, pid={self.pid})"

    def _result(self) -> ProcessExit | None:
        c = self.connector
        raw = c.read_optional(self.exit_file)
        if raw is None:
            if c.pid_alive(self.pid):
                return None
            raw = c.read_optional(self.exit_file)  # it may have ended meanwhile
            if raw is None:
                return ProcessExit(None, VANISHED + f" on {c.spec}")
        return ProcessExit(_exit_code(raw))


class SshPidProcess(_RemoteHandle):
    """A job process of the host known by its pid only (started by someone else)."""

    def __repr__(self) -> str:
        return f"SshPidProcess({self.connector.spec!r}, pid={self.pid})"

    def _result(self) -> ProcessExit | None:
        if self.connector.pid_alive(self.pid):
            return None
        return ProcessExit(None)  # not ours: the markers say how it ended
