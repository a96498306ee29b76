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


def run_script(script: Path | str, *args: object, package: str = "experimaestro",
               path: list[Path] | tuple[Path, ...] = (), cwd: Path | None = None,
               timeout: float = 300) -> str:
    """Run ``script`` (a file, or code for ``-c``) with the reference
    (``package="experimaestro"``, its venv's python) or with xpm_nb (this
    interpreter, the checkout under test first on the path); return its stdout.

    ``path`` goes on ``PYTHONPATH``; ``XPM_INTEROP_PKG`` names the package for
    scripts written for both. The reference runs without any ``XPM_NB_*``
    variable (no stand-in); a non-zero exit fails the test with its stderr.
    """
    from support.integration import need

    env = {k: v for k, v in os.environ.items() if not k.startswith("XPM_NB")}
    entries = [str(p) for p in path]
    if package == "xpm_nb":
        import xpm_nb

        python = sys.executable
        env = dict(os.environ)
        entries.append(str(Path(xpm_nb.__file__).resolve().parents[1]))
    else:
        ref = ref_python()
        need(ref is not None, f"reference venv (experimaestro {REF_VERSION}) unavailable")
        python = str(ref)
    env["XPM_INTEROP_PKG"] = package
    env["PYTHONPATH"] = os.pathsep.join(entries)
    command = [str(script)] if isinstance(script, Path) else ["-c", script]
    proc = subprocess.run([python, *command, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, (
        f"{command[0]} with {package} failed ({proc.returncode}):\n{proc.stderr[-5000:]}")
    return proc.stdout
