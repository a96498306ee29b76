"""The reference system (experimaestro 2.7.0) in a virtual environment of its own.

Created once and cached under ``~/.cache/xpm_nb/ref-venv`` (override with
``XPM_NB_REF_VENV``); never imported into the test process, only run as a
subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.venvs import cached_venv

REF_VERSION = "2.7.0"


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "xpm_nb" / "ref-venv"
    return Path(os.environ.get("XPM_NB_REF_VENV", default))


def ref_python() -> Path | None:
    """Path of the reference venv's python, installing it if needed (None if impossible)."""
    vdir = venv_dir()

    def build(python: Path) -> None:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(vdir)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"experimaestro=={REF_VERSION}"],
                       check=True, timeout=900)
        subprocess.run([str(python), "-c", "import experimaestro"], check=True)

    return cached_venv(vdir, f".xpm_nb-ok-{REF_VERSION}", build)
