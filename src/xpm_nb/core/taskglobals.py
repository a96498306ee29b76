"""State of the job process, set by ``xpm_nb.run`` (and by experiments in the notebook)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import StateError
from ..layout import WorkspacePaths

__all__ = ["remaining_time", "config_cache_path", "set_job", "job_path", "workspace_path"]

_job_path: Path | None = None
_workspace_path: Path | None = None
_deadline: float | None = None  # time.time() at which the launcher stops the job


def set_job(job_path: Path | None, workspace: Path | None, deadline: float | None = None):
    global _job_path, _workspace_path, _deadline
    _job_path, _workspace_path, _deadline = job_path, workspace, deadline


def set_workspace(workspace: Path | None) -> None:
    global _workspace_path
    _workspace_path = workspace


def job_path() -> Path | None:
    return _job_path


def workspace_path() -> Path | None:
    if _workspace_path is not None:
        return _workspace_path
    env = os.environ.get("XPM_NB_WORKSPACE")
    return Path(env) if env else None


def remaining_time() -> float | None:
    """Seconds before the launcher's time limit, None when there is none.

    In a job, its launcher is asked first (``Launcher.job_deadline``: SLURM asks
    ``squeue``, the limit may have been changed since the start); the deadline
    set at the start is the fallback.
    """
    deadline = _deadline
    if _job_path is not None:
        from ..launchers.kinds import job_deadline  # late: only jobs that ask load launchers

        deadline = job_deadline() or deadline
    if deadline is None:
        return None
    return max(0.0, deadline - time.time())


def config_cache_path() -> Path:
    """``<workspace>/config``: where ``@cache`` files go."""
    ws = workspace_path()
    if ws is None:
        msg = (
            "@cache needs a workspace: call it inside a task, or within an open "
            "experiment (`with experiment(...)`)"
        )
        raise StateError(msg)
    return WorkspacePaths(ws).config_cache
