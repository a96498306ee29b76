"""``MetricsView``: live curves of the metrics the jobs log (``log_metrics``).

One chart per metric, one curve per job (its last attempt), drawn by
``js/metrics_view.js`` in plain SVG. Runs are coloured by a tag
(``color="lr"``) or grouped by one (``group="lr"``: mean and min-max spread
of the runs sharing its value); log scale and smoothing are set here or in
the view's toolbar.

Data flow: the history of each job is read from its event file when the view
opens (the scheduler's follower keeps none in memory); then every event the
follower reads reaches :meth:`MetricsView._on_metrics` (a watcher of the job's
:class:`~xpm_nb.scheduler.follow.MetricsLog`, on the scheduler's thread), which
only records the point and marks the job; a coalesced flush (at most ten a
second, :class:`~xpm_nb.widgets.updates.Coalescer`) sends the points added
since the previous one, numbered like the job table's patches (a view that
sees a gap asks for a snapshot: ``{"type": "sync"}``).
"""

from __future__ import annotations

import uuid

import anywidget
import traitlets

from .assets import bundle
from .live import LiveJobsView
from .metrics import CurveFeed, CurveState
from .updates import UPDATE_INTERVAL

__all__ = ["MetricsView"]


def _fresh_snapshot(_value, widget: MetricsView) -> dict:
    return widget._snapshot()


class MetricsView(LiveJobsView, anywidget.AnyWidget):
    """Live curves of the metrics of an experiment's jobs (or of a list of jobs).

    ``color``: a tag whose values colour the curves; ``group``: a tag whose
    values group the runs (mean line, min-max band); ``log``: log scale;
    ``smoothing``: 0 (none) to 0.99, an exponential moving average.
    """

    _esm = bundle("metrics_view")

    _xpm_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True, to_json=_fresh_snapshot)
    patch = traitlets.Dict().tag(sync=True)
    tag_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # The view's settings: the toolbar writes them back (kept with a saved notebook).
    color_by = traitlets.Unicode("").tag(sync=True)
    group_by = traitlets.Unicode("").tag(sync=True)
    log_scale = traitlets.Bool(False).tag(sync=True)
    smoothing = traitlets.Float(0.0).tag(sync=True)

    def __init__(self, source=(), *, color: str = "", group: str = "", log: bool = False,
                 smoothing: float = 0.0, interval: float = UPDATE_INTERVAL, **kwargs):
        jobs, scheduler, title = _jobs_of(source)
        self._follow_all = scheduler is not None
        # Before the watchers: an event may come at once (its flush waits `interval`).
        self._init_live([scheduler] + [j.scheduler for j in jobs], interval)
        self.feed = CurveFeed(jobs, lambda: self._coalescer.mark(self._loop()), self._loop)
        model_id = kwargs.pop("model_id", None) or uuid.uuid4().hex
        super().__init__(title=title, model_id=model_id, _xpm_id=model_id,
                         tag_names=self.feed.tag_names(), color_by=color, group_by=group,
                         log_scale=log, smoothing=float(smoothing), **kwargs)
        self._listen()
        self.on_msg(self._on_message)

    @property
    def curves(self) -> CurveState:
        return self.feed.state

    @property
    def jobs(self) -> list:
        return self.feed.jobs

    def _state_snapshot(self) -> dict:
        return self.curves.snapshot()

    # --- the scheduler's thread -------------------------------------------------

    def _on_job(self, job) -> None:
        self.feed.job_changed(job, self._follow_all)

    def _flush(self) -> None:
        with self._sync_lock:
            patch = self.curves.patch()
            with self.hold_sync():
                if patch is not None:
                    self.patch = patch
                names = self.feed.tag_names()
                if names != self.tag_names:
                    self.tag_names = names

    # --- the kernel's thread ----------------------------------------------------

    def _on_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "sync":
            with self._sync_lock:
                self.send(self.curves.snapshot())

    def close(self) -> None:
        if not hasattr(self, "_coalescer"):  # __init__ failed (a bad source): nothing to undo
            super().close()
            return
        self._stop_listening()
        feed = getattr(self, "feed", None)
        if feed is not None:
            feed.close()
        super().close()


def _jobs_of(source) -> tuple[list, object, str]:
    """``(jobs, scheduler to follow for new jobs or None, title)`` of an experiment or jobs."""
    from ..scheduler.experiment import experiment
    from ..scheduler.jobs import Job

    if isinstance(source, experiment):
        return list(source.jobs), source.scheduler, source.name
    jobs = []
    for item in source:
        job = item if isinstance(item, Job) else getattr(getattr(item, "__xpm__", None), "job", None)
        if job is None:
            msg = (f"MetricsView: {item!r} is neither a job nor a submitted task; give an "
                   "experiment, or a list of jobs or submitted tasks")
            raise TypeError(msg)
        jobs.append(job)
    return jobs, None, ""
