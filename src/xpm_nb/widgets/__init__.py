"""Live notebook widgets: configuration trees, job tables, experiment views, metric curves.

``ConfigView``, ``JobTable``, ``ExperimentView`` and ``MetricsView`` (the
curves of the logged metrics: ``MetricsView(xp, group="lr")``) are anywidget widgets,
imported on first use; :mod:`.rows`, :mod:`.config_tree`, :mod:`.static` and
:mod:`.updates` import no widget library (a monitoring server uses them too).
Evaluating a configuration, a submitted task, a job or an experiment in a
notebook cell shows these widgets through :mod:`xpm_nb.display`.
"""

from __future__ import annotations

import importlib

__all__ = ["ConfigView", "ExperimentView", "JobTable", "MetricsView", "WorkspaceBrowser", "browse",
           "view"]

_LAZY = {
    "ConfigView": "xpm_nb.widgets.config_view",
    "JobTable": "xpm_nb.widgets.job_table",
    "ExperimentView": "xpm_nb.widgets.experiment_view",
    "MetricsView": "xpm_nb.widgets.metrics_view",
    "WorkspaceBrowser": "xpm_nb.widgets.browse",
    "browse": "xpm_nb.widgets.browse",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'xpm_nb.widgets' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def view(obj):
    """The live widget of a configuration, submitted task, job, list of jobs or experiment."""
    from ..core.objects import ConfigMixin
    from ..errors import InvalidTypeError
    from ..scheduler.experiment import experiment
    from ..scheduler.jobs import Job

    if isinstance(obj, experiment):
        return __getattr__("ExperimentView")(obj)
    if isinstance(obj, Job):
        return __getattr__("ConfigView")(obj.config, job=obj)
    if isinstance(obj, ConfigMixin):
        return __getattr__("ConfigView")(obj)
    if isinstance(obj, (list, tuple)) and all(isinstance(j, Job) for j in obj):
        return __getattr__("JobTable")(obj)
    msg = (
        f"xpm_nb.widgets.view(obj={obj!r}): no widget for a {type(obj).__qualname__}. "
        "Fix: give a configuration, a submitted task, a Job, a list of Jobs or an experiment"
    )
    raise InvalidTypeError(msg)
