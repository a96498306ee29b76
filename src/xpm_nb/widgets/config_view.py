"""``ConfigView``: a configuration as a collapsible tree, with its identifier.

For a submitted task (or one of its outputs, or a ``Job``) the view also shows
the job, live: state, failure reason, progress bars, log tail, cancel and
resubmit buttons.
"""

from __future__ import annotations

import uuid

import anywidget
import traitlets

from .assets import bundle
from .config_tree import config_tree, job_of_config
from .rows import JobTableState, job_row
from .updates import UPDATE_INTERVAL, Coalescer

__all__ = ["ConfigView"]


class ConfigView(anywidget.AnyWidget):
    """The tree of ``config``'s fields; the live state of its job when it has one."""

    _esm = bundle("config_view")

    _xpm_id = traitlets.Unicode("").tag(sync=True)  # the comm id (see JobTable)
    tree = traitlets.Dict().tag(sync=True)
    identifier = traitlets.Unicode("").tag(sync=True)
    job = traitlets.Dict().tag(sync=True)  # the job's row (js/job_table.js format), or {}

    def __init__(self, config, *, job=None, interval: float = UPDATE_INTERVAL, **kwargs):
        tree = config_tree(config)
        self.config = config
        self._job = job if job is not None else job_of_config(config)
        self._scheduler = None
        model_id = kwargs.pop("model_id", None) or uuid.uuid4().hex
        if self._job is not None:  # the job's row goes with the comm's opening message
            kwargs.setdefault("job", job_row(self._job, 0))
        super().__init__(tree=tree, identifier=tree.get("id") or "", model_id=model_id,
                         _xpm_id=model_id, **kwargs)
        self._coalescer = Coalescer(self._flush, interval)
        if self._job is not None:
            self._table = JobTableState([self._job])
            self._scheduler = self._job.scheduler
            if self._scheduler is not None:
                self._scheduler.listeners.append(self._on_job)
        self.on_msg(self._on_message)

    @property
    def flushes(self) -> int:
        return self._coalescer.flushes

    def _on_job(self, job) -> None:
        if job is self._job and self._scheduler is not None:
            self._coalescer.mark(getattr(self._scheduler, "loop", None))

    def _flush(self) -> None:
        if self._job is not None:
            self.job = job_row(self._job, 0)

    def _on_message(self, _widget, content, _buffers) -> None:
        if self._job is None:
            return
        reply = self._table.handle(content)
        if reply is not None and reply.get("type") != "snapshot":
            self.send(reply)

    def flush(self) -> None:
        """Sync the job's state now (the kernel loop does it within 0.1 s anyway)."""
        self._coalescer.flush_now()

    def close(self) -> None:
        if self._scheduler is not None:
            try:
                self._scheduler.listeners.remove(self._on_job)
            except ValueError:
                pass
            self._scheduler = None
        self._coalescer.cancel()
        super().close()
