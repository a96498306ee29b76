"""The summaries of finished jobs, kept on disk between processes.

A done job's event file no longer changes: its summary (times, progress, last
metrics) is stored in ``~/.cache/xpm_nb/results/`` (``$XPM_NB_CACHE_DIR``;
set it to an empty string to disable), one file per ``WS/jobs`` folder, so a
new kernel builds a 100,000-job frame from one ``stat`` per job instead of
reading every event file. An entry is used only while the job's ``.done``
marker has the modification time it had when the entry was written.

The files are written by this user only and read with ``marshal`` (plain
values: strings, numbers, dicts, tuples). A file is written by a thread half a
second after the frame that filled it is returned (the notebook is then idle,
showing it; the frame does not wait for a cache), or at once when this process
reads the cache again or exits.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import os
import sys
import threading
from pathlib import Path

from ..core.params import atomic_write

__all__ = ["cache_dir", "load", "save", "flush"]

ENV = "XPM_NB_CACHE_DIR"
_FORMAT = 3  # bumped when the entries change: files of other formats are ignored

_loaded: set[str] = set()  # jobs folders whose file this process has read
_counts: dict[str, int] = {}  # jobs folder -> entries in its file (read or written)
_DELAY = 0.5  # seconds between a frame and the write of what it read
_pending: dict[str, tuple[Path, dict]] = {}  # jobs folder -> (cache folder, entries)
_lock = threading.Lock()  # held while writing
_timer: threading.Timer | None = None


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
    flush()
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
    """Store the entries of a jobs folder if there are more than last read or written.

    ``entries`` is written later (see the module), without a copy:
    ``marshal.dumps`` holds the GIL while it runs, and the entries (tuples) of a
    finished job are never changed, only replaced.
    """
    if len(entries) <= _counts.get(jobs_dir, 0):
        return
    folder = cache_dir()
    if folder is None:
        return
    global _timer
    with _lock:
        _counts[jobs_dir] = len(entries)
        _pending[jobs_dir] = (folder, entries)
        if _timer is None:
            _timer = threading.Timer(_DELAY, flush)
            _timer.name, _timer.daemon = "xpm-nb-results-cache", True  # atexit flushes
            _timer.start()


def flush() -> None:
    """Write the files waiting to be written, now."""
    global _timer
    with _lock:
        if _timer is not None:
            _timer.cancel()
            _timer = None
        while _pending:
            jobs_dir, (folder, entries) = _pending.popitem()
            _write(folder, jobs_dir, {"jobs_dir": jobs_dir, "entries": entries})


atexit.register(flush)


def _write(folder: Path, jobs_dir: str, data: dict) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(_file(folder, jobs_dir), marshal.dumps(data))
    except (OSError, ValueError):
        # A cache: failing to write it only costs time next time.
        _counts[jobs_dir] = 0


def forget() -> None:
    """Read the files again on next use (for tests)."""
    flush()
    _loaded.clear()
    _counts.clear()
