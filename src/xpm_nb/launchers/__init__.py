"""Launchers: how a job's process is started on a compute resource, and followed.

:class:`Launcher` (``launchers/base.py``) lists, one method each, what the
scheduler and the other modules ask of a launcher; the handles it returns
(:class:`ProcessHandle`, :class:`ProcessExit`, :class:`ProcessState`) live in
:mod:`xpm_nb.process`, which connectors import too. Launchers:
``direct.DirectLauncher`` (local or SSH processes), ``command.CommandLauncher``
(the same, through a command template such as ``nice``) and
``slurm.SlurmLauncher``.
"""

from __future__ import annotations

import re

from ..errors import InvalidArgumentError
from ..process import POLL_MAX, POLL_MIN, ProcessExit, ProcessHandle, ProcessState
from .base import Described, Description, Launcher
from .kinds import launcher_type, register_launcher_type

__all__ = ["Launcher", "ProcessHandle", "ProcessExit", "ProcessState", "check_env_name",
           "Described", "Description", "launcher_type", "register_launcher_type",
           "POLL_MIN", "POLL_MAX"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_env_name(name, where: str = "environment variable") -> str:
    """``name`` if it can name an environment variable, else an ``InvalidArgumentError``.

    Names go into shell scripts (SLURM's ``export NAME=...``): anything but
    letters, digits and ``_`` could run a command there.
    """
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        msg = (f"{where} name {name!r}: expected letters, digits and '_' (not starting "
               f"with a digit). Fix: rename it, e.g. MY_SETTING")
        raise InvalidArgumentError(msg)
    return name
