"""The summaries of finished jobs, kept on disk between processes.

A done job's event file no longer changes: its summary (times, progress, last
metrics) is stored in ``~/.cache/xpm_nb/results/`` (``$XPM_NB_CACHE_DIR``;
set it to an empty string to disable), one file per ``WS/jobs`` folder, so a
new kernel builds a 100,000-job frame from one ``stat`` per job instead of
reading every event file. An entry is used only while the job's ``.done``
marker has the modification time it had when the entry was written.

The files are written by this user only and read with ``marshal`` (plain
values: strings, numbers, dicts, tuples).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path

from ..core.params import atomic_write

__all__ = ["cache_dir", "load", "save"]

ENV = "XPM_NB_CACHE_DIR"
_FORMAT = 2

_loaded: set[str] = set()  # jobs folders whose file this process has read
_counts: dict[str, int] = {}  # jobs folder -> entries in its file (read or written)


def cache_dir() -> Path | None:
    """Where the files go, or None when disabled (``XPM_NB_CACHE_DIR=""``)."""
    value = os.environ.get(ENV)
    if value == "":
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xpm_nb" / "results"


def _file(folder: Path, jobs_dir: str) -> Path:
    digest = hashlib.sha256(jobs_dir.encode()).hexdigest()[:24]
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    return folder / f"{digest}-v{_FORMAT}-py{version}.marshal"


def load(jobs_dir: str) -> dict[str, tuple]:
    """The stored entries of a jobs folder (once per process; {} afterwards)."""
    if jobs_dir in _loaded:
        return {}
    _loaded.add(jobs_dir)
    folder = cache_dir()
    if folder is None:
        return {}
    try:
        data = marshal.loads(_file(folder, jobs_dir).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(data, dict) or data.get("jobs_dir") != jobs_dir:
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    _counts[jobs_dir] = len(entries)
    return entries


def save(jobs_dir: str, entries: dict[str, tuple]) -> None:
    """Store the entries of a jobs folder if there are more than last read or written."""
    if len(entries) <= _counts.get(jobs_dir, 0):
        return
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(_file(folder, jobs_dir),
                     marshal.dumps({"jobs_dir": jobs_dir, "entries": entries}))
    except (OSError, ValueError):
        return  # a cache: failing to write it only costs time next time
    _counts[jobs_dir] = len(entries)


def forget() -> None:
    """Read the files again on next use (for tests)."""
    _loaded.clear()
    _counts.clear()
