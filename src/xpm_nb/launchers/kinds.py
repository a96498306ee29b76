"""Launcher types by name: the ``type:`` of a ``launchers.yaml`` entry, and the
``XPM_NB_LAUNCHER`` a launcher sets in its jobs' environment.

A type is named by ``module:Class`` and imported only when used: reading a
launchers file that only has direct launchers imports nothing of SLURM.
"""

from __future__ import annotations

import importlib
import os

from ..errors import InvalidArgumentError

__all__ = ["LAUNCHER_TYPES", "register_launcher_type", "launcher_type", "job_deadline"]

#: name -> "module:Class" (a Launcher subclass); the order is the one of error messages.
LAUNCHER_TYPES: dict[str, str] = {
    "direct": "xpm_nb.launchers.direct:DirectLauncher",
    "slurm": "xpm_nb.launchers.slurm.launcher:SlurmLauncher",
    "command": "xpm_nb.launchers.command:CommandLauncher",
}


def register_launcher_type(name: str, target: str | type) -> None:
    """Make ``type: name`` of launchers.yaml build ``target`` (a class or "module:Class")."""
    if isinstance(target, type):
        target = f"{target.__module__}:{target.__qualname__}"
    if not isinstance(name, str) or not name or ":" not in str(target):
        msg = (f"register_launcher_type({name!r}, {target!r}): expected a name and a "
               "Launcher class (or 'module:Class'). Fix: register_launcher_type('mine', "
               "MyLauncher)")
        raise InvalidArgumentError(msg)
    LAUNCHER_TYPES[name] = target


def launcher_type(name: str) -> type | None:
    """The launcher class of a type name, None if no type has that name."""
    target = LAUNCHER_TYPES.get(name)
    if target is None:
        return None
    module, _, qualname = target.partition(":")
    value = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def job_deadline() -> float | None:
    """In a job process: when its launcher will stop it (``time.time()``), if the
    launcher knows (:meth:`Launcher.job_deadline`).

    The launcher named by ``$XPM_NB_LAUNCHER`` is asked; without one (a job
    started directly) every type is, in order: a kernel may itself run inside a
    cluster allocation whose end also ends its jobs.
    """
    name = os.environ.get("XPM_NB_LAUNCHER", "")
    names = [name] if name in LAUNCHER_TYPES else list(LAUNCHER_TYPES)
    for each in names:
        deadline = launcher_type(each).job_deadline()
        if deadline is not None:
            return deadline
    return None
