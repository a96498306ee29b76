"""Reading a workspace's files as untrusted input: bounded, never blocking, never code.

Used by result frames and by the ``xpm-nb jobs|experiments`` listings. A file
that is not a regular file (a FIFO, a device, a symbolic link, a folder) or is
too large is not read: its job is bad input, reported by a note naming the
file and the fix (:func:`note`; result frames turn the notes into one
``ResultsWarning``, the command line prints them on stderr), and the other
jobs are listed as usual.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from ..layout import folder_state, pid_alive, pid_is_live, safe_name
from .eventscan import EVENTS_LIMIT, SMALL_LIMIT, BadFile, read_from, read_small

__all__ = ["BadFile", "read_small", "read_from", "read_json", "read_noted", "disk_state", "note",
           "take_notes", "safe_name", "EVENTS_LIMIT", "SMALL_LIMIT", "FIX"]

FIX = "Fix: remove it (or put back the file xpm_nb writes there)"

_notes: list[str] = []
_MAX_NOTES = 1000  # a library caller that never takes them keeps at most these


def note(message: str) -> None:
    """Record a problem of the workspace's files (shown by the caller once it is done)."""
    if len(_notes) < _MAX_NOTES and message not in _notes:
        _notes.append(message)


def bad(path, exc: BadFile) -> str:
    """Note that ``path`` is bad input; returns the note."""
    message = f"{path} {exc.what}: not read. {FIX}"
    note(message)
    return message


def notes_count() -> int:
    return len(_notes)


def take_notes() -> list[str]:
    """The notes recorded since the last call (and forget them)."""
    out = list(_notes)
    _notes.clear()
    return out


def read_json(path, limit: int = SMALL_LIMIT):
    """The JSON value of a small file; None when missing, unreadable, not JSON, or bad
    input (noted)."""
    try:
        data = read_small(os.fspath(path), limit)
    except BadFile as exc:
        bad(path, exc)
        return None
    except OSError:
        return None
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:  # not JSON, not UTF-8, too deep
        return None
    except RecursionError:
        return None


def disk_state(paths, *, hostname: str | None = None):
    """:func:`~xpm_nb.scheduler.jobs.read_disk_state` for a local job folder read as
    untrusted input: the ``.failed`` and pid files are read with :func:`read_small`
    (a FIFO or a link to ``/dev/zero`` there is noted, and the job is failed
    ("unreadable .failed") or not running)."""
    from ..scheduler.jobs import JobState

    host = hostname or socket.gethostname()
    state, info = folder_state(paths, os.path.exists, read_noted,
                               lambda pid_info: pid_is_live(pid_info, host, pid_alive))
    return (JobState(state) if state else None), info


def read_noted(path) -> bytes | None:
    """:func:`read_small`, noting a file that is bad input (then raised, as unreadable)."""
    try:
        return read_small(os.fspath(path))
    except BadFile as exc:
        bad(path, exc)
        raise


def job_folder(path: Path) -> bool:
    """A real folder (not a symbolic link to one: never followed out of the workspace)."""
    return path.is_dir() and not path.is_symlink()
