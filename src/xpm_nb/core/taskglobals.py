"""State of the job process, set by ``xpm_nb.run`` (and by experiments in the notebook)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import StateError

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

    In a SLURM job, SLURM itself is asked (the limit may have been changed
    since the start); the deadline set at the start is the fallback.
    """
    deadline = _deadline
    if _job_path is not None and os.environ.get("SLURM_JOB_ID"):
        deadline = _slurm_deadline() or deadline
    if deadline is None:
        return None
    return max(0.0, deadline - time.time())


_SLURM_REFRESH = 30.0  # seconds during which squeue's answer is reused
_slurm_cache: tuple[float, float | None] | None = None  # (asked at, end time)


def _slurm_deadline() -> float | None:
    """The end time of the SLURM job running this process (``squeue``), or None."""
    global _slurm_cache
    now = time.time()
    if _slurm_cache is not None and now - _slurm_cache[0] < _SLURM_REFRESH:
        return _slurm_cache[1]
    import subprocess

    squeue = os.path.join(os.environ.get("XPM_NB_SLURM_BIN", ""), "squeue")
    deadline = None
    try:
        r = subprocess.run([squeue, "-h", "-j", os.environ["SLURM_JOB_ID"], "-o", "%L|%e"],
                           capture_output=True, text=True, timeout=10)
        left, _, end = r.stdout.strip().partition("|")
        if r.returncode == 0 and left and left not in ("UNLIMITED", "NOT_SET", "INVALID"):
            try:  # the end time follows `scontrol update EndTime/TimeLimit`
                deadline = time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                deadline = now + _slurm_seconds(left)
    except (OSError, ValueError, subprocess.SubprocessError):
        deadline = None
    _slurm_cache = (now, deadline)
    return deadline


def _slurm_seconds(text: str) -> float:
    """``[days-]hours:minutes:seconds`` (or ``minutes:seconds``) in seconds."""
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts[-3:]
    return ((int(days or 0) * 24 + h) * 60 + m) * 60 + s


def config_cache_path() -> Path:
    """``<workspace>/config``: where ``@cache`` files go."""
    ws = workspace_path()
    if ws is None:
        msg = (
            "@cache needs a workspace: call it inside a task, or within an open "
            "experiment (`with experiment(...)`)"
        )
        raise StateError(msg)
    return ws / "config"
