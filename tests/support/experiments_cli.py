"""``xpm-nb experiments list`` run in a new process, as a user would run it.

Imported as ``from support.experiments_cli import experiments_json, experiments_list``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def experiments_list(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m xpm_nb.cli experiments list --workdir WORKDIR ARGS``, output as text
    (the exit code is the caller's to check)."""
    return subprocess.run([sys.executable, "-m", "xpm_nb.cli", "experiments", "list",
                           "--workdir", str(workdir), *args],
                          capture_output=True, text=True, timeout=60)


def experiments_json(workdir: Path) -> list[dict]:
    """The experiments of ``workdir`` as ``experiments list --json`` prints them
    (the command must succeed)."""
    proc = experiments_list(workdir, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
