"""A run of the reference (experimaestro 2.7.0) as xpm_nb lists it.

The reference holds ``WS/experiments/<name>/lock`` (``flock``, through
``filelock``) while its run is open, has no lock in the run's folder, and
writes ``last_updated`` as an ISO 8601 string: ``xpm-nb experiments list``
says running while it runs, crashed once it is killed, and reads its time.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from support.experiments_cli import experiments_json, experiments_list
from support.integration import need
from support.refvenv import ref_python
from xpm_nb.experiments.workspace_jobs import workspace_experiments
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

pytestmark = pytest.mark.interop

REF_DRIVER = """
import sys, time
from experimaestro import experiment
with experiment(sys.argv[1], "refxp", no_environmental_impact=True):
    print("open", flush=True)
    time.sleep(600)
"""


def test_a_reference_run_is_running_then_crashed(workdir):
    python = ref_python()
    need(python is not None, "reference venv (experimaestro 2.7.0) unavailable")
    proc = subprocess.Popen([str(python), "-c", REF_DRIVER, str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        [info] = workspace_experiments(Workspace(WorkspaceSettings(workdir)))
        assert info.status == "running"
        assert isinstance(info.last_updated, float)  # the reference's ISO string, read
        assert [e["status"] for e in experiments_json(workdir)] == ["running"]
        text = experiments_list(workdir)
        assert text.returncode == 0 and "running" in text.stdout, text.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert [e["status"] for e in experiments_json(workdir)] == ["crashed"]
