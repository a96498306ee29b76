"""Shared pytest setup.

Integration tests need real parts (the reference system in its own virtual
environment, a SLURM cluster, sshd, a browser). Where a part is missing they
skip with the reason; with ``XPM_NB_REQUIRE_INTEGRATION=1`` (set by ``.ci/run``)
such a skip is turned into a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Job slots are counted per host in a file shared by every process of the user
# (launchers/slots.py): the test session gets a folder of its own, inherited by
# the drivers, kernels and servers it starts, so that another run on the same
# machine neither takes our slots nor finds ours.
os.environ.setdefault("XPM_NB_SLOTS_DIR", tempfile.mkdtemp(prefix="xpm_nb-test-slots-"))

# Real SLURM cluster and sshd fixtures (tests/infra), started once per session.
pytest_plugins = ["infra.fixtures", "infra.browser_fixtures"]

from support.integration import REQUIRE_INTEGRATION, need  # noqa: E402, F401


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh folder for a workspace."""
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def _job_processes_under(folder: Path) -> list[int]:
    """Pids of job processes (``python -m xpm_nb.run <job folder>``) of jobs in ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"xpm_nb.run" in argv and any(a.startswith(bytes(folder)) for a in argv):
            found.append(int(proc.name))
    return found


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test(tmp_path: Path):
    """A test that fails before releasing its jobs leaves them waiting for ever:
    the job processes of its folder (and their process groups) end with it."""
    yield
    for pid in _job_processes_under(tmp_path):
        try:
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
