"""Tokens: counted resources shared by all processes of a machine.

A token file holds the current holders ``{job path: [count, pid]}``; every
change happens under a file lock, and holders whose process is dead are
dropped, so a crashed holder never keeps its share.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import fasteners

from ..core.params import atomic_write
from .jobs import pid_alive

__all__ = ["CounterToken", "TokenDependency"]


class CounterToken:
    """At most ``total`` units held at once, across processes."""

    def __init__(self, name: str, path: Path, total: int):
        if total < 1:
            msg = f"token {name!r}: total must be at least 1 (got {total})"
            raise ValueError(msg)
        self.name = name
        self.path = Path(path)
        self.total = total
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = fasteners.InterProcessLock(str(self.path) + ".lock")

    def __repr__(self) -> str:
        return f"CounterToken({self.name!r}, total={self.total})"

    def dependency(self, count: int = 1) -> TokenDependency:
        if not 1 <= count <= self.total:
            msg = f"token {self.name!r}: count must be between 1 and {self.total} (got {count})"
            raise ValueError(msg)
        return TokenDependency(self, count)

    def _holders(self) -> dict:
        try:
            holders = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return {k: v for k, v in holders.items() if pid_alive(int(v[1]))}

    def try_acquire(self, key: str, count: int, pid: int | None = None) -> bool:
        with self._lock:
            holders = self._holders()
            if key in holders:
                return True
            if sum(v[0] for v in holders.values()) + count > self.total:
                return False
            holders[key] = [count, pid or os.getpid()]
            atomic_write(self.path, json.dumps(holders))
            return True

    def release(self, key: str) -> None:
        with self._lock:
            holders = self._holders()
            if holders.pop(key, None) is not None:
                atomic_write(self.path, json.dumps(holders))

    def used(self) -> int:
        with self._lock:
            return sum(v[0] for v in self._holders().values())


class TokenDependency:
    """A job's claim on ``count`` units of a token (``task.add_dependencies(token.dependency(1))``)."""

    def __init__(self, token: CounterToken, count: int):
        self.token = token
        self.count = count
