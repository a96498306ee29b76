"""``MetricsView``: live curves of the metrics the jobs log (``log_metrics``).

One chart per metric, one curve per job (its last attempt), drawn by
``js/metrics_view.js`` in plain SVG. Runs are coloured by a tag
(``color="lr"``) or grouped by one (``group="lr"``: mean and min-max spread
of the runs sharing its value); log scale and smoothing are set here or in
the view's toolbar. Its "parameters" panel (``panel="parameters"``) draws
one point per run instead: a metric's last (or lowest, highest) value against
a tag (``x="lr"``): a scatter for a numeric tag, a strip for a categorical
one; :meth:`MetricsView.parameters` gives the same points.

Data flow: the history of each job is read from its event file when the view
opens (the scheduler's follower keeps none in memory); then every event the
follower reads reaches :meth:`MetricsView._on_metrics` (a watcher of the job's
:class:`~xpm_nb.scheduler.follow.MetricsLog`, on the scheduler's thread), which
only records the point and marks the job; a coalesced flush (at most ten a
second, :class:`~xpm_nb.widgets.updates.Coalescer`) sends the points added
since the previous one in a ``{"type": "patch"}`` message, numbered like the
job table's patches (a view that sees a gap asks for a snapshot:
``{"type": "sync"}``).
"""

from __future__ import annotations

import uuid

import anywidget
import traitlets

from ..errors import InvalidArgumentError, InvalidTypeError
from .assets import bundle
from .live import LiveJobsView
from .metrics import CurveFeed, CurveState, transient_objects
from .params import BEST, parameter_points
from .updates import UPDATE_INTERVAL

__all__ = ["MetricsView"]


def _fresh_snapshot(_value, widget: MetricsView) -> dict:
    return widget._snapshot()


class MetricsView(LiveJobsView, anywidget.AnyWidget):
    """Live curves of the metrics of an experiment's jobs (or of a list of jobs).

    ``color``: a tag whose values colour the curves; ``group``: a tag whose
    values group the runs (mean line, min-max band); ``log``: log scale;
    ``smoothing``: 0 (none) to 0.99, an exponential moving average.
    ``panel``: ``"curves"`` or ``"parameters"`` (one point per run: ``metric``'s
    ``best`` value, ``"last"``, ``"min"`` or ``"max"``, against the tag ``x``).
    """

    _esm = bundle("metrics_view")

    _xpm_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True, to_json=_fresh_snapshot)
    patch = traitlets.Dict().tag(sync=True)  # no longer set (patches are messages): saved views' state
    tag_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # The view's settings: the toolbar writes them back (kept with a saved notebook).
    color_by = traitlets.Unicode("").tag(sync=True)
    group_by = traitlets.Unicode("").tag(sync=True)
    log_scale = traitlets.Bool(False).tag(sync=True)
    smoothing = traitlets.Float(0.0).tag(sync=True)
    panel = traitlets.Unicode("curves").tag(sync=True)  # or "parameters"
    param_metric = traitlets.Unicode("").tag(sync=True)  # "": the first metric
    param_x = traitlets.Unicode("").tag(sync=True)  # "": the first tag
    param_best = traitlets.Unicode("last").tag(sync=True)  # "last", "min" or "max"

    def __init__(self, source=(), *, color: str = "", group: str = "", log: bool = False,
                 smoothing: float = 0.0, panel: str = "curves", metric: str = "", x: str = "",
                 best: str = "last", interval: float = UPDATE_INTERVAL, **kwargs):
        _check_panel(panel, best)
        jobs, scheduler, title = _jobs_of(source)
        self._follow_all = scheduler is not None
        # Before the watchers: an event may come at once (its flush waits `interval`).
        self._init_live([scheduler] + [j.scheduler for j in jobs], interval)
        self.feed = CurveFeed(jobs, lambda: self._coalescer.mark(self._loop()), self._loop)
        model_id = kwargs.pop("model_id", None) or uuid.uuid4().hex
        super().__init__(title=title, model_id=model_id, _xpm_id=model_id,
                         tag_names=self.feed.tag_names(), color_by=color, group_by=group,
                         log_scale=log, smoothing=float(smoothing), panel=panel,
                         param_metric=metric, param_x=x, param_best=best, **kwargs)
        self._listen()
        self.on_msg(self._on_message)

    @property
    def curves(self) -> CurveState:
        return self.feed.state

    @property
    def jobs(self) -> list:
        return self.feed.jobs

    def parameters(self, metric: str = "", x: str = "", best: str = "", color: str = "") -> dict:
        """The points of the parameters panel (see :func:`~xpm_nb.widgets.params.parameter_points`):
        the view's settings unless given; the first metric and tag when none is set."""
        best = best or self.param_best
        _check_panel("parameters", best)
        metric = metric or self.param_metric or next(iter(self.curves.metric_names), "")
        x = x or self.param_x or next(iter(self.tag_names), "")
        return parameter_points(self.curves, metric, x, best, color or self.color_by)

    def _state_snapshot(self) -> dict:
        # The state may go to one front end only (a page that loads asks every widget's
        # state on its own comm): the others keep their copy, so no baseline here.
        return self.curves.snapshot(unsent=False)

    # --- the scheduler's thread -------------------------------------------------

    def _on_job(self, job) -> None:
        self.feed.job_changed(job, self._follow_all)

    def _flush(self) -> None:
        with self._sync_lock:
            with transient_objects():
                patch = self.curves.patch()
                if patch is not None:
                    # A custom message, not the "patch" key: a key's update is walked value
                    # by value for binary buffers by ipywidgets (most of a flush's cost, with
                    # the GIL held on the scheduler's thread: stalls of the kernel's loop).
                    self.send(patch)
                del patch
            with self.hold_sync():
                names = self.feed.tag_names()
                if names != self.tag_names:
                    self.tag_names = names

    # --- the kernel's thread ----------------------------------------------------

    def _on_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "sync":
            with self._sync_lock:
                self.send(self.curves.snapshot_for_view())

    def close(self) -> None:
        if not hasattr(self, "_coalescer"):  # __init__ failed (a bad source): nothing to undo
            super().close()
            return
        self._stop_listening()
        feed = getattr(self, "feed", None)
        if feed is not None:
            feed.close()
        super().close()


def _check_panel(panel: str, best: str) -> None:
    if panel not in ("curves", "parameters"):
        msg = f"MetricsView: panel={panel!r}; expected 'curves' or 'parameters'"
        raise InvalidArgumentError(msg)
    if best not in BEST:
        msg = (f"MetricsView: best={best!r}; expected one of {', '.join(map(repr, BEST))} "
               "(a run's last, lowest or highest value of the metric)")
        raise InvalidArgumentError(msg)


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
            msg = (f"MetricsView(source=...): {item!r} is neither a job nor a submitted task. "
                   "Fix: give an experiment, or a list of jobs or submitted tasks")
            raise InvalidTypeError(msg)
        jobs.append(job)
    return jobs, None, ""
