"""Names the reference offers that have no other home in xpm_nb.

Small helpers the experimaestro ecosystem imports (``DirectoryContext``,
``clone``, ``documentation``...) and re-exports of names that xpm_nb keeps in
other modules (``FailedExperiment``, ``Scheduler``...).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from ..core.context import ConfigWalkContext
from ..core.objects import Config
from ..errors import DirtyGitError, InvalidTypeError
from ..launcherfinder.registry import LauncherRegistry
from ..scheduler.experiment import FailedExperiment
from ..scheduler.scheduler import Scheduler

__all__ = [
    "Annotated", "Any", "DirectoryContext", "DirtyGitError", "FailedExperiment",
    "LauncherRegistry", "Path", "Scheduler", "clone", "copyconfig", "documentation",
    "shoulddocument",
]


class DirectoryContext(ConfigWalkContext):
    """A walk context whose job folder is a given directory (tests, debugging)."""

    def __init__(self, path: Path):
        super().__init__()
        self._path = Path(path)

    @property
    def path(self) -> Path:
        return self._path


def documentation(method):
    """Marks a method to include in the documentation."""
    method.__experimaestro_documentation__ = True
    return method


def shoulddocument(method) -> bool:
    return hasattr(method, "__experimaestro_documentation__")


def clone(value):
    """A deep copy of a value whose configurations are new, unsealed ones.

    Generated and constant fields are left out (they are recomputed when the
    copy is sealed), as the reference does.
    """
    if isinstance(value, list):
        return [clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clone(v) for v in value)
    if isinstance(value, dict):
        return {clone(k): clone(v) for k, v in value.items()}
    if isinstance(value, Config):
        kwargs = {
            argument.name: clone(v)
            for argument, v in value.__xpm__.xpmvalues()
            if argument.generator is None and not argument.constant
        }
        return type(value)(**kwargs)
    if value is None or isinstance(value, (str, int, float, bool, Path, Enum)):
        return value
    msg = f"clone: cannot copy a value of type {type(value).__qualname__} ({value!r})"
    raise InvalidTypeError(msg)


def copyconfig(config: Config, **kwargs) -> Config:
    """An unsealed copy of ``config``, with ``kwargs`` set on it."""
    copy = config.copy()
    for name, value in kwargs.items():
        setattr(copy, name, value)
    return copy

