"""The experimaestro ecosystem from PyPI, in a virtual environment of its own.

datamaestro and xpm-mlboard (which bring the reference, experimaestro 2.7.0,
as their dependency) and TensorBoard, pinned. The venv sees this interpreter's
site-packages (``--system-site-packages``), so it runs the xpm_nb under test
and its ``.pth`` hook: with ``XPM_NB_EXPERIMAESTRO=1`` the ecosystem runs on
xpm_nb, without it on the reference. Created once, cached under
``~/.cache/xpm_nb/eco-venv`` (override with ``XPM_NB_ECO_VENV``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from support.venvs import cached_venv

PACKAGES = ["datamaestro==1.16.1", "xpm-mlboard==0.3.1", "tensorboard==2.21.0"]  # + its tests


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "xpm_nb" / "eco-venv"
    return Path(os.environ.get("XPM_NB_ECO_VENV", default))


def eco_python() -> Path | None:
    """The venv's python, creating the venv if needed (None if impossible)."""
    vdir = venv_dir()

    def build(python: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--system-site-packages",
                        str(vdir)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES],
                       check=True, timeout=900)
        subprocess.run([str(python), "-c", "import datamaestro, xpm_mlboard, xpm_nb"],
                       check=True, timeout=120)
        _fetch_mlboard_tests(python, vdir)

    # Another interpreter or package set means another venv.
    tag = f"{sys.executable} {sys.version} {' '.join(PACKAGES)} tests"
    return cached_venv(vdir, f".xpm_nb-ok-{hashlib.sha256(tag.encode()).hexdigest()[:16]}", build)


MLBOARD = "xpm-mlboard==0.3.1"


def mlboard_tests() -> Path:
    """xpm-mlboard's own test suite (from its source distribution)."""
    return venv_dir() / "xpm-mlboard-tests"


def _fetch_mlboard_tests(python: Path, vdir: Path) -> None:
    # The wheel ships no tests; the sdist does.
    download = vdir / "sdist"
    subprocess.run([str(python), "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", "-d", str(download), MLBOARD],
                   check=True, timeout=300)
    archive = next(download.glob("xpm_mlboard-*.tar.gz"))
    target = mlboard_tests()
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        for member in members:
            member.name = member.name.split("/tests/", 1)[1]
        tar.extractall(target, members=members, filter="data")


def env(standin: bool, **extra: str) -> dict[str, str]:
    """The environment of a run: on xpm_nb (``standin``) or on the reference."""
    environ = {k: v for k, v in os.environ.items() if k != "XPM_NB_EXPERIMAESTRO"}
    if standin:
        environ["XPM_NB_EXPERIMAESTRO"] = "1"
    environ.update(extra)
    return environ
