"""``ExperimentView``: an experiment's counts by state, its job table and its services.

Its "curves" button opens the metrics' charts (``js/metrics_view.js``, with
its "parameters" panel: a metric per run against a tag) in the same view: the first ``{"type": "curves_sync"}`` of the view makes a
:class:`~xpm_nb.widgets.metrics.CurveFeed` (nothing is read for curves
before), answered by a ``curves_snapshot`` message; then the new points go in
``curves_patch`` messages, in the same coalesced flush as the table's patch
(the monitoring page gets them as its polls' ``curves_patch`` key).

Its "graph" button opens the task graph (``js/dag.js``), drawn from the rows'
``deps`` (see :func:`~xpm_nb.widgets.rows.job_row`): nothing more is sent for it.
When the experiment serves its monitoring page (``experiment(..., port=0)``),
``monitor_url`` holds the page's address without its token (the widget state is
saved in the notebook); a live view asks ``{"type": "monitor_url"}`` and gets the
link with the token in a message, kept in the page only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import traitlets

from ..services import is_web_url
from .assets import bundle
from .job_table import JobTable
from .metrics import CurveFeed, transient_objects
from .updates import UPDATE_INTERVAL

__all__ = ["ExperimentView", "service_info"]

SERVICE_REFRESH = 1.0  # seconds between two looks at the services and the run status


def service_info(sid: str, service: Any) -> dict:
    """What a view shows of a service; never starts it (``get_url()`` would)."""
    state = getattr(service, "state", None)
    state = getattr(state, "name", state)
    try:
        description = service.description() if hasattr(service, "description") else None
    except Exception as exc:  # noqa: BLE001 - a user's service must not break the view
        description = f"(description failed: {exc})"
    url = getattr(service, "url", None)
    error = getattr(service, "error", None)
    return {
        "id": str(sid),
        "description": str(description) if description is not None else type(service).__name__,
        "state": str(state).lower() if state is not None else None,
        # Only http(s) is ever linked: a service's URL is not trusted (javascript:).
        "url": url if is_web_url(url) else None,
        "error": str(error) if error else None,
    }


def _status(xp) -> str:
    return "closed" if xp.closed else "running"


def _server(xp):
    """The experiment's monitoring server while it serves, else None."""
    server = getattr(xp, "server", None)
    return server if server is not None and getattr(server, "_httpd", None) is not None else None


def _monitor_url(xp) -> str:
    server = _server(xp)
    return str(server.base_url) if server is not None else ""


def _services(xp) -> list[dict]:
    return [service_info(sid, s) for sid, s in list(xp.services.items())]


class ExperimentView(JobTable):
    """The live view of an ``experiment``: a header, counts, services, the job table."""

    _esm = bundle("experiment_view")

    name = traitlets.Unicode("").tag(sync=True)
    run_id = traitlets.Unicode("").tag(sync=True)
    workspace = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("running").tag(sync=True)
    services = traitlets.List(traitlets.Dict()).tag(sync=True)
    # The curves panel (see the module's docstring) and its settings (as MetricsView's).
    # ``curves_patch`` is no longer set (patches are messages): kept for saved views' state.
    curves_patch = traitlets.Dict().tag(sync=True)
    curves_color_by = traitlets.Unicode("").tag(sync=True)
    curves_group_by = traitlets.Unicode("").tag(sync=True)
    curves_log_scale = traitlets.Bool(False).tag(sync=True)
    curves_smoothing = traitlets.Float(0.0).tag(sync=True)
    curves_panel = traitlets.Unicode("curves").tag(sync=True)  # or "parameters"
    curves_param_metric = traitlets.Unicode("").tag(sync=True)
    curves_param_x = traitlets.Unicode("").tag(sync=True)
    curves_param_best = traitlets.Unicode("last").tag(sync=True)
    # The monitoring page (``experiment(..., port=...)``), without its token: the
    # state is saved in the notebook. A live view asks for the link with the token
    # ({"type": "monitor_url"}), answered by a message that only the page holds.
    monitor_url = traitlets.Unicode("").tag(sync=True)

    def __init__(self, xp, *, interval: float = UPDATE_INTERVAL, **kwargs):
        self.experiment = xp
        self._feed = None  # the curves, once a view asks for them
        super().__init__(
            xp.jobs,
            scheduler=xp.scheduler,
            title=xp.name,
            interval=interval,
            name=xp.name,
            run_id=str(getattr(xp, "run_path", "") and xp.run_path.name),
            workspace=str(xp.workspace.path),
            status=_status(xp),
            services=_services(xp),
            monitor_url=_monitor_url(xp),
            **kwargs,
        )
        self._tick_handle = None
        self._stopped = False
        self._schedule_tick()

    def _sync_more(self) -> None:
        xp = getattr(self, "experiment", None)
        if xp is None:
            return
        self.status = _status(xp)
        self.services = _services(xp)
        self.monitor_url = _monitor_url(xp)
        feed = getattr(self, "_feed", None)
        if feed is not None:
            with transient_objects():  # see MetricsView._flush
                patch = feed.state.patch()
                if patch is not None:
                    # A custom message, as MetricsView's patches: cheaper to send.
                    self.send({**patch, "type": "curves_patch"})
                del patch

    def _on_job(self, job) -> None:
        super()._on_job(job)
        feed = getattr(self, "_feed", None)
        if feed is not None:
            feed.job_changed(job, True)

    def _on_message(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "curves_sync":
            self._curves_sync()
            return
        if isinstance(content, dict) and content.get("type") == "monitor_url":
            server = _server(self.experiment)
            self.send({"type": "monitor_url", "url": server.url if server is not None else ""})
            return
        super()._on_message(widget, content, buffers)

    def _curves_sync(self) -> None:
        """Start the curves (reading the jobs' histories) if needed; send them whole."""
        with self._sync_lock:
            if self._feed is None:
                self._feed = CurveFeed(self.table.jobs, lambda: self._coalescer.mark(self._loop()),
                                       self._loop)
            self.send({**self._feed.state.snapshot_for_view(), "type": "curves_snapshot"})

    def _schedule_tick(self) -> None:
        """Arm the next look, on the scheduler's loop (from any thread)."""
        loop = self._loop()
        if (self._stopped or self.experiment.closed or loop is None or loop.is_closed()
                or not loop.is_running()):
            return
        if asyncio._get_running_loop() is loop:  # noqa: SLF001
            self._tick_handle = loop.call_later(SERVICE_REFRESH, self._tick)
        else:
            loop.call_soon_threadsafe(self._schedule_tick)

    def _tick(self) -> None:
        """Look at the services and the run status now and then (they call no listener)."""
        self._tick_handle = None
        if self._stopped:
            return
        with self._sync_lock, self.hold_sync():
            self._sync_more()
        self._schedule_tick()

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
        self._stopped = True
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        super().close()

