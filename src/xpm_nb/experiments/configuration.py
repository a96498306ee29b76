"""``ConfigurationBase`` and ``configuration``: the typed content of an experiment YAML file.

An experiment file declares its own configuration class::

    @configuration
    class Configuration(ConfigurationBase):
        lr: float = 1e-3
        seeds: list[int] = attrs.field(factory=lambda: [1, 2])

and the YAML file gives its values (plus the fields of ``ConfigurationBase``:
which file holds the ``run`` function, the experiment id, ...). Classes are
keyword-only attrs classes, as in the reference.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs

from ..scheduler.experiment import DirtyGitAction

__all__ = ["ConfigurationBase", "configuration", "MISSING", "DirtyGitAction"]


class _Missing:
    """The value of a field that must be given in the YAML file (``id``)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def configuration(*args, **kwargs):
    """Define a keyword-only configuration class (``@configuration`` or ``@configuration()``)."""
    return attrs.define(*args, kw_only=True, slots=False, hash=True, eq=True, **kwargs)


@configuration
class ConfigurationBase:
    """Base configuration for any experiment."""

    id: str = MISSING
    """ID of the experiment (the experiment's folder name in the workspace)."""

    file: str = "experiment"
    """Relative path (to the YAML file, without ``.py``) of the file holding ``run``."""

    module: Optional[str] = None
    """Module name holding ``run`` (instead of ``file``)."""

    pythonpath: Optional[list[str]] = None
    """Python path, relative to the YAML file's folder (default: that folder)."""

    parent: Optional[str] = None
    """(Deprecated) a YAML file merged before this one; use ``imports``."""

    imports: Optional[list[str]] = None
    """YAML files merged in order before this one (this file wins)."""

    pre_experiment: Optional[str] = None
    """A Python file (relative path) or module run before the experiment is imported."""

    title: str = ""
    """Short description of the experiment."""

    subtitle: str = ""
    """More details about the experiment."""

    paper: str = ""
    """Source paper for this experiment."""

    description: str = ""
    """Description of the experiment."""

    add_timestamp: bool = False
    """Add a timestamp ``YYYY_MM_DD-HH_MM`` to the experiment ID."""

    dirty_git: DirtyGitAction = DirtyGitAction.WARN
    """Action when the code's git repository has uncommitted changes: ignore, warn, error."""
