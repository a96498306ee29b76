"""``JobTable``: a live table of jobs (states, progress, tags, logs, cancel, resubmit).

The rows live in a :class:`~xpm_nb.widgets.rows.JobTableState`; the view
asks for them all once (``sync``, answered by a custom message) and then gets
patches holding only the rows that changed, at most ten a second
(:class:`~xpm_nb.widgets.updates.Coalescer`). A flush is one comm message: the
``patch`` trait and the small facts (counts by state, tag names) change
together under ``hold_sync``.
"""

from __future__ import annotations

from collections.abc import Iterable

import anywidget
import traitlets

from .assets import bundle
from .rows import JobTableState
from .updates import UPDATE_INTERVAL, Coalescer

__all__ = ["JobTable"]


class JobTable(anywidget.AnyWidget):
    """A live table of ``jobs``; with ``scheduler``, also of every job it gets later."""

    _esm = bundle("job_table")

    title = traitlets.Unicode("").tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)
    tag_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_jobs = traitlets.Int(0).tag(sync=True)
    # The rows changed by the last flush (a "patch" message, see js/job_table.js): a
    # trait rather than a custom message, so that a flush is one comm message.
    patch = traitlets.Dict().tag(sync=True)

    def __init__(self, jobs: Iterable = (), *, scheduler=None, title: str = "",
                 interval: float = UPDATE_INTERVAL, **kwargs):
        self.table = JobTableState(jobs)
        self.table.snapshot()  # the view starts from a snapshot it asks for
        # Initial values go with the comm's opening message, not in updates after it.
        kwargs.setdefault("counts", self.table.counts())
        kwargs.setdefault("tag_names", self.table.tag_names)
        kwargs.setdefault("n_jobs", len(self.table))
        super().__init__(title=title, **kwargs)
        self._follow_all = scheduler is not None
        self._coalescer = Coalescer(self._flush, interval)
        self._schedulers: list = []
        schedulers = [scheduler] if scheduler is not None else []
        schedulers += [job.scheduler for job in self.table.jobs if job.scheduler is not None]
        for sched in schedulers:
            if all(sched is not s for s in self._schedulers):
                self._schedulers.append(sched)
                sched.listeners.append(self._on_job)
        self.on_msg(self._on_message)

    @property
    def jobs(self) -> list:
        return list(self.table.jobs)

    @property
    def flushes(self) -> int:
        """How many coalesced updates this widget made."""
        return self._coalescer.flushes

    def _loop(self):
        return self._schedulers[0].loop if self._schedulers else None

    def _on_job(self, job) -> None:
        # Called by the scheduler for every change: keep it to a set insertion.
        if self._follow_all:
            self.table.add(job)
        elif not self.table.mark(job):
            return
        self._coalescer.mark(self._loop())

    def _flush(self) -> None:
        patch = self.table.patch()
        with self.hold_sync():  # one comm message for everything that changed
            if patch is not None:
                self.patch = patch
            self._sync_traits()

    def _sync_traits(self) -> None:
        with self.hold_sync():
            self.counts = self.table.counts()
            self.tag_names = self.table.tag_names
            self.n_jobs = len(self.table)
            self._sync_more()

    def _sync_more(self) -> None:
        """Subclasses sync their own traits here (within the same message)."""

    def _on_message(self, _widget, content, _buffers) -> None:
        reply = self.table.handle(content)
        if reply is not None:
            self.send(reply)
        if isinstance(content, dict) and content.get("type") in ("cancel", "resubmit"):
            self._coalescer.mark(self._loop())

    def flush(self) -> None:
        """Send the pending changes now (the kernel loop does it within 0.1 s anyway)."""
        self._coalescer.flush_now()

    def close(self) -> None:
        for sched in self._schedulers:
            try:
                sched.listeners.remove(self._on_job)
            except ValueError:
                pass
        self._schedulers = []
        self._coalescer.cancel()
        super().close()
