"""A debug hook on the blocking calls a connector makes to its host.

Every SSH operation (SFTP request, command, agent request, connection) goes
through ``SshSession``, which calls :func:`note` before it may wait on the
network. Tests (and anyone debugging a stall) watch those calls with
:func:`watching`; e.g. to list the ones made on the scheduler's own thread,
which must make none (``scheduler/loopthread.py``)::

    from xpm_nb.connectors.blocking import watching
    from xpm_nb.scheduler.loopthread import on_scheduler_thread

    seen = []
    with watching(lambda what: on_scheduler_thread() and seen.append(what)):
        ...

With no watcher, :func:`note` costs one test of an empty tuple.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["note", "watching"]

_hooks: tuple[Callable[[str], object], ...] = ()
_lock = threading.Lock()


def note(what: str) -> None:
    """A blocking call to a host is about to be made by this thread."""
    for hook in _hooks:
        hook(what)


@contextlib.contextmanager
def watching(hook: Callable[[str], object]) -> Iterator[None]:
    """Call ``hook(what)`` on every blocking host call made meanwhile (any thread)."""
    global _hooks
    with _lock:
        _hooks = (*_hooks, hook)
    try:
        yield
    finally:
        with _lock:
            hooks = list(_hooks)
            hooks.remove(hook)
            _hooks = tuple(hooks)
