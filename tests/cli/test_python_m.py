"""``python -m xpm_nb ARGS`` runs the ``xpm-nb`` CLI (as ``python -m experimaestro``
runs the reference's), in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .helpers import cli_env


def python_m(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xpm_nb", *map(str, args)], cwd=cwd,
                          env=cli_env(), capture_output=True, text=True, timeout=180)


def test_help_names_the_commands():
    proc = python_m("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("run-experiment", "jobs", "experiments"):
        assert command in proc.stdout


def test_no_command_is_an_error():
    proc = python_m()
    assert proc.returncode == 2
    assert "xpm-nb" in proc.stderr


def test_run_experiment_then_list_jobs_and_experiments(project, tmp_path):
    ws = tmp_path / "ws"
    proc = python_m("run-experiment", "exp.yaml", "--workdir", ws, cwd=project)
    assert proc.returncode == 0, proc.stderr
    listed = python_m("jobs", "list", "--workdir", ws, "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert jobs and all(j["state"] == "done" for j in jobs), jobs
    # The same answer as the CLI's own module.
    same = subprocess.run([sys.executable, "-m", "xpm_nb.cli", "jobs", "list", "--workdir",
                           str(ws), "--json"], env=cli_env(), capture_output=True, text=True)
    assert json.loads(same.stdout) == jobs
    xps = python_m("experiments", "list", "--workdir", ws)
    assert xps.returncode == 0, xps.stderr
    assert xps.stdout.strip()
