"""Running ``xpm-nb`` as a subprocess on real files (shared by the CLI and server tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).parent / "project"


def copy_project(dest: Path) -> Path:
    """A fresh copy of the test experiment (exp.yaml, base.yaml, experiment.py)."""
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def cli_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.pop("XPM_NB_WORKDIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli_command(*args) -> list[str]:
    return [sys.executable, "-m", "xpm_nb.cli", *map(str, args)]


def run_cli(*args, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """``xpm-nb ARGS`` (through ``python -m xpm_nb.cli``), output captured as text."""
    return subprocess.run(cli_command(*args), cwd=cwd, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def jobs_json(workdir: Path, *args) -> list[dict]:
    proc = run_cli("jobs", "list", "--workdir", workdir, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
