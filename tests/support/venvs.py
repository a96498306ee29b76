"""Virtual environments the tests build once and keep (the reference, the ecosystem)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import fasteners


def cached_venv(vdir: Path, marker_name: str, build: Callable[[Path], None]) -> Path | None:
    """The python of ``vdir`` once ``build(python)`` succeeded there, None if it failed.

    Built under a lock shared by every process (parallel test sessions) and
    remembered by the marker file ``marker_name`` (named after what was built,
    so another version builds again).
    """
    python = vdir / "bin" / "python"
    marker = vdir / marker_name
    if marker.exists():
        return python
    vdir.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(vdir) + ".lock"):
        if marker.exists():
            return python
        try:
            build(python)
        except (subprocess.SubprocessError, OSError):
            return None
        marker.touch()
    return python
