"""Helpers of the SSH tests: a guard against local access to the "remote" folder,
connectors to the test sshd and their ``ssh://`` URLs (the fixtures are in
``conftest.py``; waiting is ``support.waiting``).

The "remote" host is this machine reached through the real sshd of
``tests/infra/sshd.py``; the remote workspace is a folder of its own. The
code under test must reach it only through SSH/SFTP: a ``LocalAccessGuard``
records every file operation of this process (Python audit events: open,
mkdir, rename, remove, symlink, listdir...) on that folder, and the tests
assert there was none. Tests themselves may look at the folder locally,
outside the guard. (``os.stat`` has no audit event: it is not seen.)
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path, PurePath

from support.paths import importable

HERE = importable(__file__)  # remote_tasks, imported as the remote jobs import it

_EVENTS = {
    "open", "os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink",
    "os.link", "os.listdir", "os.scandir", "os.chmod", "os.utime", "os.truncate",
    "shutil.rmtree", "os.chdir", "shutil.copyfile", "shutil.move",
}
_watched: list[str] = []
_seen: list[tuple[str, str]] = []
_lock = threading.Lock()


def _audit(event: str, args: tuple) -> None:
    if not _watched or event not in _EVENTS:
        return
    for arg in args[:2]:
        if isinstance(arg, PurePath):
            path = str(arg)
        elif isinstance(arg, str):
            path = arg
        elif isinstance(arg, bytes):
            path = arg.decode(errors="replace")
        else:
            continue
        for root in _watched:
            if path == root or path.startswith(root + os.sep):
                with _lock:
                    _seen.append((event, path))


sys.addaudithook(_audit)


class LocalAccessGuard:
    """Records local file operations on ``root`` while active (``with guard:``)."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.seen: list[tuple[str, str]] = []

    def __enter__(self) -> LocalAccessGuard:
        _seen.clear()
        _watched.append(self.root)
        return self

    def __exit__(self, *exc) -> None:
        _watched.remove(self.root)
        self.seen.extend(_seen)
        _seen.clear()

    def check(self) -> None:
        assert not self.seen, f"the remote folder was touched locally: {self.seen[:10]}"


@contextlib.contextmanager
def no_guard():
    """Let the test itself read the remote folder while a guard is active."""
    saved = list(_watched)
    _watched.clear()
    try:
        yield
    finally:
        _watched.extend(saved)


def make_connector(server, **options):
    """A new connector to the test sshd (its ssh_config alias), python = ours."""
    from infra.sshd import HOST_ALIAS
    from xpm_nb.connectors.ssh import SshConnector

    options.setdefault("ssh_config", server.ssh_config)
    options.setdefault("python", sys.executable)
    options.setdefault("env", {"PYTHONPATH": str(HERE)})
    return SshConnector(HOST_ALIAS, **options)


def ssh_url(connector, path) -> str:
    """The ``ssh://`` URL of ``path`` on the connector's host."""
    return f"ssh://{connector.spec}/{path}"
