"""Test folders made importable: in the tests' process and in the processes they start.

Imported as ``from support.paths import importable, tasks_importable, ...``.

A test submits tasks defined in a module of its folder (``tasks.py``); the
job process (``python -m xpm_nb.run``) imports that module by name, so the
folder must be on the job's ``PYTHONPATH`` as well as on the tests' own
``sys.path``. A test module says so in one line::

    HERE = importable(__file__)                 # this process only
    _importable = tasks_importable(__file__)    # and the job processes (autouse)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

__all__ = ["importable", "pythonpath", "on_pythonpath", "tasks_importable"]


def _folder(where: str | os.PathLike) -> Path:
    path = Path(where)
    return path.parent if path.suffix == ".py" else path


def importable(where: str | os.PathLike) -> Path:
    """Put ``where`` (a folder, or a file's folder) first on this process's ``sys.path``;
    that folder."""
    folder = _folder(where)
    if not sys.path or sys.path[0] != str(folder):
        sys.path.insert(0, str(folder))
    return folder


def pythonpath(*folders: str | os.PathLike, base: str | None = None) -> str:
    """A ``PYTHONPATH`` value: ``folders`` first, then ``base`` (default: this
    process's ``$PYTHONPATH``)."""
    if base is None:
        base = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([*map(str, folders), base])


def on_pythonpath(monkeypatch: pytest.MonkeyPatch, *folders: str | os.PathLike) -> None:
    """``folders`` first on ``$PYTHONPATH`` for the rest of the test (so in every
    process it starts: job processes, drivers, kernels)."""
    monkeypatch.setenv("PYTHONPATH", pythonpath(*folders))


def tasks_importable(where: str | os.PathLike):
    """:func:`importable` now, and an autouse fixture putting the folder on the
    ``PYTHONPATH`` of the test's job processes; assign it to a name of the test
    module (``_importable = tasks_importable(__file__)``) for pytest to find it."""
    folder = importable(where)

    @pytest.fixture(autouse=True)
    def _importable(monkeypatch):
        on_pythonpath(monkeypatch, folder)

    return _importable
