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

from .eventscan import EVENTS_LIMIT, SMALL_LIMIT, BadFile, read_from, read_small

__all__ = ["BadFile", "read_small", "read_from", "read_json", "disk_state", "note",
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


def safe_name(name: str) -> bool:
    """Whether a task or job id of a run's ``jobs.jsonl`` is one folder name of the
    workspace (no ``/``, not ``.`` or ``..``, no NUL): others are never followed."""
    return (type(name) is str and name not in ("", ".", "..") and "/" not in name
            and "\x00" not in name and "\\" not in name)


def disk_state(paths, *, hostname: str | None = None):
    """:func:`~xpm_nb.scheduler.jobs.read_disk_state` for a local job folder read as
    untrusted input: the ``.failed`` and pid files are read with :func:`read_small`
    (a FIFO or a link to ``/dev/zero`` there is noted, and the job is failed
    ("unreadable .failed") or not running)."""
    from ..scheduler.jobs import JobState, pid_alive, same_process

    if os.path.exists(paths.done):
        return JobState.DONE, {}
    try:
        data = read_small(os.fspath(paths.failed))
    except BadFile as exc:
        bad(paths.failed, exc)
        return JobState.ERROR, {"reason": f"failed (unreadable .failed file: it {exc.what})"}
    except OSError:  # there, but unreadable (no permission)
        data = b"\xff"
    if data is not None:
        try:
            info = json.loads(data or b"{}")
        except (ValueError, RecursionError):
            info = {"reason": "failed (unreadable .failed file)"}
        if not isinstance(info, dict):
            info = {"code": info}
        reason = info.get("reason")
        if reason is not None and not isinstance(reason, str):
            info["reason"] = json.dumps(reason, default=str)[:1000]
        return JobState.ERROR, info
    try:
        data = read_small(os.fspath(paths.pid))
    except BadFile as exc:
        bad(paths.pid, exc)
        return None, {}
    except OSError:
        return None, {}
    if data is None:
        return None, {}
    try:
        info = json.loads(data)
        pid = int(info["pid"])
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError):
        return None, {}
    if not 0 < pid < 1 << 31:
        return None, {"stale_pid": pid}
    host = info.get("host")
    if host is not None and host != (hostname or socket.gethostname()):
        return JobState.RUNNING, info  # cannot check another host's pid
    if pid_alive(pid) and same_process(info, pid):  # not a reused pid
        return JobState.RUNNING, info
    return None, {"stale_pid": pid}


def job_folder(path: Path) -> bool:
    """A real folder (not a symbolic link to one: never followed out of the workspace)."""
    return path.is_dir() and not path.is_symlink()
