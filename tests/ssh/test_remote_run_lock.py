"""The run lock of an experiment on a remote workspace: held on the host (by the
connection's agent) while the experiment is open, released at close."""

from __future__ import annotations

import subprocess
import sys

from ssh_helpers import no_guard

from xpm_nb import experiment
from xpm_nb.experiments.workspace_jobs import workspace_experiments
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

# A process of the host (the sshd is on this machine) trying the lock, without waiting.
PROBE = """
import sys, fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
if lock.acquire(blocking=False):
    lock.release()
    print("free")
else:
    print("held")
"""


def _held_on_host(path) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                         text=True, timeout=60, check=True).stdout.strip()
    return out == "held"


def test_the_run_lock_is_held_on_the_host_while_open(connector, remote_root, guard):
    ws = remote_root / "ws"
    with guard:
        xp = experiment(f"ssh://{connector.spec}/{ws}", "remote-lock", project_paths=[])
        try:
            lock = ws / "experiments" / "remote-lock" / xp.run_path.name / "lock"
            with no_guard():
                assert _held_on_host(lock)
                [info] = workspace_experiments(Workspace(WorkspaceSettings(ws)))
                assert info.status == "running"
        finally:
            xp.close()
        with no_guard():
            assert not _held_on_host(lock)
            [info] = workspace_experiments(Workspace(WorkspaceSettings(ws)))
            assert info.status == "done"
