"""Generated field values: ``PathGenerator`` makes paths in the job folder."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Union

__all__ = ["Generator", "PathGenerator"]


class Generator(ABC):
    """A default computed at seal time from the job context; never in the identifier."""

    def isoutput(self) -> bool:
        return False

    @abstractmethod
    def __call__(self, context, config): ...


class PathGenerator(Generator):
    """A path inside the task's job folder (or a shared partial folder).

    ``path`` is relative to the folder, or a function ``(context, config) -> Path``.
    """

    def __init__(self, path: Union[str, Path, Callable] = "", *, partial=None):
        self.path = path
        self.partial = partial

    def __call__(self, context, config) -> Path:
        if self.partial is not None:
            base = context.partial_path(self.partial, config)
        else:
            base = context.currentpath()
        if inspect.isfunction(self.path) or inspect.ismethod(self.path):
            return base / self.path(context, config)
        if self.path:
            return base / Path(self.path)
        return base

    def isoutput(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"PathGenerator({self.path!r})"
