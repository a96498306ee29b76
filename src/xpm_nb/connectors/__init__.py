"""Connectors: how files, processes and locks are reached on a host."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

__all__ = ["Connector"]


class Connector(ABC):
    """Access to a host: run processes, lock files, create tokens."""

    @abstractmethod
    def lock(self, path: Path, max_delay: int = -1): ...

    @abstractmethod
    def createtoken(self, name: str, total: int): ...
