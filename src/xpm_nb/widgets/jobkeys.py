"""The jobs of a view's state, each named by a small integer key, and the keys changed.

The job table (:class:`~xpm_nb.widgets.rows.JobTableState`) and the curves
(:class:`~xpm_nb.widgets.metrics.CurveState`) both name a job by its place in
the order the jobs came (``k``: a row, a curve), and both send only the jobs
marked since their last patch: :class:`JobKeys` is their base. Imports no
widget library.
"""

from __future__ import annotations

import threading

__all__ = ["JobKeys"]


class JobKeys:
    """``jobs[k]`` is the job of key ``k``; ``_dirty`` holds the keys marked since
    the last patch (:meth:`_take_dirty`).

    The scheduler's thread marks, the kernel's reads: :attr:`lock` guards it
    all. A job is known by ``id(job)``: :attr:`jobs` keeps it alive, so that id
    is never another job's.
    """

    def __init__(self):
        self.lock = threading.RLock()
        self.jobs: list = []  # index = key
        self._keys: dict[int, int] = {}  # id(job) -> key
        self._dirty: set[int] = set()

    def __len__(self) -> int:
        return len(self.jobs)

    def key(self, job) -> int | None:
        return self._keys.get(id(job))

    def add(self, job) -> int:
        """Add ``job`` (once) and mark it; returns its key."""
        with self.lock:
            key = self._keys.get(id(job))
            if key is None:
                key = len(self.jobs)
                self.jobs.append(job)
                self._keys[id(job)] = key
                self._added(job)
            self._dirty.add(key)
            return key

    def _added(self, job) -> None:
        """``job`` got the last key (under the lock): what a subclass keeps of it starts here."""

    def mark(self, job) -> bool:
        """Note that ``job`` changed; False if it is not here."""
        key = self._keys.get(id(job))
        if key is None:
            return False
        with self.lock:
            self._dirty.add(key)
        return True

    def _take_dirty(self) -> set[int]:
        """The keys marked since the last call (for a patch); none stay marked."""
        with self.lock:
            dirty, self._dirty = self._dirty, set()
            return dirty
