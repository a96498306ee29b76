"""``JobTable``: a live table of jobs (states, progress, tags, logs, cancel, resubmit).

The rows live in a :class:`~xpm_nb.widgets.rows.JobTableState`. The view
never has to ask for them: the ``snapshot`` trait (every row, in the compact
form of :func:`~xpm_nb.widgets.rows.encode_table`) is built afresh each time
the widget's whole state is read, so it travels with the comm's opening
message, with a state request of a reloaded page and with ``send_state()``.
After it come patches holding only the rows that changed, at most ten a
second (:class:`~xpm_nb.widgets.updates.Coalescer`), numbered so that a view
that missed one asks again (``sync``, answered by a custom message). A view's
first render thus never waits for the kernel, however long the cells after it
run. A flush is one comm message: the ``patch`` trait and the small facts
(counts by state, tag names) change together under ``hold_sync``.

Metrics: each row holds the last values its job logged (``log_metrics``, as
the scheduler's follower read them; a job found finished on disk, never
followed, has its event file read once in the background, :class:`~xpm_nb.widgets.metrics.DiskFill`).
The view shows one column per metric (``metric_names``); a first click on one
sorts best first: ascending for names containing "loss", "error" or
"perplexity", descending for others. Cancelled jobs count as "cancelled" in
``counts``, apart from the failed ones ("error").

Threads: scheduler listeners and flushes run on the scheduler's thread, the
view's requests on the kernel's. Building a snapshot, making a patch and
sending them happen under one lock, so a view gets them in ``seq`` order.
``cancel``/``resubmit`` run outside it (they wait for the scheduler's thread).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import anywidget
import traitlets

from .assets import bundle
from .live import LiveJobsView
from .metrics import DiskFill
from .rows import JobTableState
from .updates import UPDATE_INTERVAL

__all__ = ["JobTable"]


def _fresh_snapshot(_value, widget: JobTable) -> dict:
    """``to_json`` of the ``snapshot`` trait: the rows as they are now, whatever the trait holds."""
    return widget._snapshot()


class JobTable(LiveJobsView, anywidget.AnyWidget):
    """A live table of ``jobs``; with ``scheduler``, also of every job it gets later."""

    _esm = bundle("job_table")

    # The comm id, known to the view (it keys the saved state of the notebook's
    # views, see js/common.js): chosen here rather than by the comm.
    _xpm_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)
    tag_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Names of the metrics the jobs logged (log_metrics): one column each.
    metric_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_jobs = traitlets.Int(0).tag(sync=True)
    # Every row, built when the state is read (the trait's own value is never used).
    snapshot = traitlets.Dict().tag(sync=True, to_json=_fresh_snapshot)
    # The rows changed by the last flush (a "patch" message, see js/job_table.js): a
    # trait rather than a custom message, so that a flush is one comm message.
    patch = traitlets.Dict().tag(sync=True)

    def __init__(self, jobs: Iterable = (), *, scheduler=None, title: str = "",
                 interval: float = UPDATE_INTERVAL, **kwargs):
        self.table = JobTableState(jobs)
        self.table.baseline()  # patches hold what changes after the snapshot
        # Before the base class opens the comm: its state holds the snapshot.
        self._init_live([scheduler] + [job.scheduler for job in self.table.jobs], interval)
        model_id = kwargs.pop("model_id", None) or uuid.uuid4().hex
        kwargs.setdefault("counts", self.table.counts())
        kwargs.setdefault("tag_names", self.table.tag_names)
        kwargs.setdefault("metric_names", self.table.metric_names)
        kwargs.setdefault("n_jobs", len(self.table))
        super().__init__(title=title, model_id=model_id, _xpm_id=model_id, **kwargs)
        self._follow_all = scheduler is not None
        # Jobs found finished on disk were never followed: their metrics are read once.
        self._disk_fill = DiskFill(self._filled)
        self._listen()
        self.on_msg(self._on_message)
        for job in self.table.jobs:
            self._disk_fill.consider(job, self._loop())

    @property
    def jobs(self) -> list:
        return list(self.table.jobs)

    def _state_snapshot(self) -> dict:
        return self.table.compact_snapshot()

    def _on_job(self, job) -> None:
        # Called by the scheduler for every change: keep it to a set insertion.
        if self._follow_all:
            self.table.add(job)
        elif not self.table.mark(job):
            return
        loop = self._loop()
        self._disk_fill.consider(job, loop)
        self._coalescer.mark(loop)

    def _filled(self, jobs) -> None:
        for job in jobs:
            self.table.mark(job)
        self._coalescer.mark(self._loop())

    def _flush(self) -> None:
        with self._sync_lock:
            patch = self.table.patch()
            with self.hold_sync():  # one comm message for everything that changed
                if patch is not None:
                    self.patch = patch
                self._sync_traits()

    def _sync_traits(self) -> None:
        with self.hold_sync():
            self.counts = self.table.counts()
            self.tag_names = self.table.tag_names
            self.metric_names = self.table.metric_names
            self.n_jobs = len(self.table)
            self._sync_more()

    def _sync_more(self) -> None:
        """Subclasses sync their own traits here (within the same message)."""

    def _on_message(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "sync":  # a view missed a patch
            with self._sync_lock:
                self.send(self.table.compact_snapshot())
            return
        reply = self.table.handle(content)  # log, cancel, resubmit
        if reply is not None:
            self.send(reply)
        if kind in ("cancel", "resubmit"):
            self._coalescer.mark(self._loop())

    def close(self) -> None:
        self._stop_listening()
        super().close()
