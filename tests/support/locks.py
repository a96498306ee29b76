"""Another process's view of an experiment's run lock, for the run-lock tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Tries the lock as the experiment takes it (fasteners), without waiting.
PROBE = """
import sys, fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
if lock.acquire(blocking=False):
    lock.release()
    print("free")
else:
    print("held")
"""


def held_elsewhere(path: Path) -> bool:
    """Whether another process of this machine (the test sshd's host too) finds it taken."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                         text=True, timeout=60, check=True).stdout.strip()
    return out == "held"


def listed_status(workdir: Path) -> str:
    """The status the workspace listing gives the one experiment of ``workdir``."""
    from xpm_nb.experiments.workspace_jobs import workspace_experiments
    from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

    [info] = workspace_experiments(Workspace(WorkspaceSettings(workdir)))
    return info.status
