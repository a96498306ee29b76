"""The local machine: processes, file locks (fasteners) and tokens."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import fasteners

from . import Connector

__all__ = ["LocalConnector"]


class LocalConnector(Connector):
    """Connector for executing tasks on the local machine."""

    _instance: LocalConnector | None = None

    def __init__(self, localpath: Path | None = None):
        default = os.environ.get("XPM_WORKDIR") or Path.home() / ".local/share/xpm_nb"
        self.localpath = Path(localpath or default)

    @classmethod
    def instance(cls) -> LocalConnector:
        if cls._instance is None:
            cls._instance = LocalConnector()
        return cls._instance

    def lock(self, path: Path, max_delay: int = -1):
        """A process lock on ``path`` (``with connector.lock(p): ...``)."""
        return _SyncLock(Path(path), max_delay)

    def async_lock(self, path: Path, max_delay: int = -1):
        """A lock usable with ``async with``; waits without blocking the loop."""
        return _AsyncLock(Path(path), max_delay)

    def createtoken(self, name: str, total: int):
        """A counted resource shared by all processes of this machine."""
        from ..scheduler.tokens import CounterToken

        return CounterToken(name, self.localpath / "tokens" / f"{name}.token", total)


class _SyncLock:
    def __init__(self, path: Path, max_delay: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = fasteners.InterProcessLock(str(path))
        self.timeout = None if max_delay < 0 else max_delay

    def __enter__(self):
        if not self.lock.acquire(blocking=True, timeout=self.timeout):
            msg = f"could not lock {self.lock.path} within {self.timeout} s"
            raise TimeoutError(msg)
        return self

    def __exit__(self, *exc):
        self.lock.release()


class _AsyncLock:
    def __init__(self, path: Path, max_delay: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = fasteners.InterProcessLock(str(path))
        self.max_delay = max_delay

    async def __aenter__(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        delay = 0.005
        while not self.lock.acquire(blocking=False):
            if 0 <= self.max_delay < loop.time() - start:
                msg = f"could not lock {self.lock.path} within {self.max_delay} s"
                raise TimeoutError(msg)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return self

    async def __aexit__(self, *exc):
        self.lock.release()
