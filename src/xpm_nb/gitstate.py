"""The git state of an experiment's code: commit, branch, uncommitted changes.

Recorded in the run's ``environment.json`` (key ``projects``, one entry per
repository, with the reference's field names) and checked against the
experiment's ``dirty_git`` action (ignore, warn, error).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from .errors import DirtyGitError

__all__ = ["git_info", "project_states", "check_dirty", "caller_project_path"]

logger = logging.getLogger(__name__)


def _git(cwd: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=30, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    # Only trailing newlines go: `status --porcelain` lines start with a meaningful space.
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


def git_info(path: Path | str) -> dict | None:
    """The state of the repository holding ``path``; None when it is not in one."""
    path = Path(path)
    cwd = path if path.is_dir() else path.parent
    if not cwd.is_dir():
        return None
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    info: dict = {"path": root, "commit": None, "commit_short": None, "branch": None,
                  "dirty": False, "message": None, "author": None, "date": None}
    log = _git(cwd, "log", "-1", "--format=%H%n%h%n%an <%ae>%n%aI%n%s")
    if log:
        parts = log.split("\n", 4)
        parts += [None] * (5 - len(parts))
        (info["commit"], info["commit_short"], info["author"], info["date"],
         info["message"]) = parts
    info["branch"] = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    info["dirty"] = bool(status)
    if status:
        info["changed_files"] = [line[3:] for line in status.splitlines()][:50]
    return info


def project_states(paths) -> list[dict]:
    """Git states of the repositories holding ``paths`` (each repository once)."""
    states: dict[str, dict] = {}
    for path in paths:
        info = git_info(path)
        if info is not None and info["path"] not in states:
            states[info["path"]] = info
    return list(states.values())


def check_dirty(states: list[dict], action) -> None:
    """Warn or raise (``DirtyGitAction``) for repositories with uncommitted changes."""
    value = getattr(action, "value", action)
    dirty = [s for s in states if s.get("dirty")]
    if not dirty or value == "ignore":
        return
    lines = "; ".join(
        f"{s['path']} ({', '.join(s.get('changed_files', [])[:5])})" for s in dirty
    )
    if value == "error":
        msg = (f"the experiment's code has uncommitted changes: {lines}. Fix: commit them, "
               "or run with dirty_git=warn (or ignore)")
        raise DirtyGitError(msg)
    # Logged, as in the reference: a warning category would fire in every test suite run
    # from a working copy.
    logger.warning("the experiment's code has uncommitted changes (recorded as dirty): %s", lines)


def caller_project_path() -> Path:
    """The folder of the first caller outside xpm_nb (a script), or the working folder."""
    package = str(Path(__file__).parent)
    stdlib = sysconfig.get_paths()["stdlib"]
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        frame = frame.f_back
        if name.startswith((package, stdlib, "<")) or any(
            part in name for part in ("site-packages", "dist-packages", "ipykernel")
        ):
            continue
        path = Path(name)
        if path.is_file():
            return path.resolve().parent
    return Path.cwd()
