"""In a job process running as a SLURM job: its end time, asked of ``squeue``.

Read by ``remaining_time()`` (through :meth:`SlurmLauncher.job_deadline`):
the limit may have changed since the start (``scontrol update TimeLimit``).
"""

from __future__ import annotations

import os
import subprocess
import time

__all__ = ["job_deadline", "slurm_seconds"]

REFRESH = 30.0  # seconds during which squeue's answer is reused
_cache: tuple[float, float | None] | None = None  # (asked at, end time)


def job_deadline() -> float | None:
    """The end time of the SLURM job running this process (``squeue``), or None
    (not in a SLURM job, no limit, squeue not answering)."""
    global _cache
    jobid = os.environ.get("SLURM_JOB_ID")
    if not jobid:
        return None
    now = time.time()
    if _cache is not None and now - _cache[0] < REFRESH:
        return _cache[1]
    squeue = os.path.join(os.environ.get("XPM_NB_SLURM_BIN", ""), "squeue")
    deadline = None
    try:
        r = subprocess.run([squeue, "-h", "-j", jobid, "-o", "%L|%e"],
                           capture_output=True, text=True, timeout=10)
        left, _, end = r.stdout.strip().partition("|")
        if r.returncode == 0 and left and left not in ("UNLIMITED", "NOT_SET", "INVALID"):
            try:  # the end time follows `scontrol update EndTime/TimeLimit`
                deadline = time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                deadline = now + slurm_seconds(left)
    except (OSError, ValueError, subprocess.SubprocessError):
        deadline = None
    _cache = (now, deadline)
    return deadline


def slurm_seconds(text: str) -> float:
    """``[days-]hours:minutes:seconds`` (or ``minutes:seconds``) in seconds."""
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts[-3:]
    return ((int(days or 0) * 24 + h) * 60 + m) * 60 + s
