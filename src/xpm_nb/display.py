"""Rich display of xpm_nb objects in IPython and Jupyter.

Evaluating a configuration, a submitted task (or its outputs), a ``Job`` or
an ``experiment`` in a notebook cell shows its live widget. The MIME bundle
also carries ``text/html`` and ``text/plain`` fallbacks holding the same
facts, for nbconvert's HTML, GitHub and terminal IPython. Workspaces,
launchers, connectors, tokens, requirements, services and loaded runs show a
static card only (:mod:`xpm_nb.widgets.object_views`).

The core stays free of IPython and widgets: this module registers IPython
formatters *by class name* (``for_type_by_name``), so registering imports
nothing; the widgets load on the first display. ``import xpm_nb`` calls
:func:`register_if_ipython` when IPython is already loaded; elsewhere,
``%load_ext xpm_nb.display`` or :func:`register` does it.
"""

from __future__ import annotations

import logging
import os
import sys
import weakref
from typing import Any

__all__ = ["register", "register_if_ipython", "unregister", "mimebundle", "load_ipython_extension"]

logger = logging.getLogger(__name__)

# (module, class name) of each displayed class; subclasses match through their MRO.
TARGETS = (
    ("xpm_nb.core.objects", "ConfigMixin"),
    ("xpm_nb.scheduler.jobs", "Job"),
    ("xpm_nb.scheduler.experiment", "experiment"),
    # Static cards (no widget): xpm_nb.widgets.object_views.RENDERERS
    ("xpm_nb.scheduler.workspace", "Workspace"),
    ("xpm_nb.launchers.base", "Described"),  # every launcher, and its options
    ("xpm_nb.connectors.local", "LocalConnector"),
    ("xpm_nb.connectors.ssh.connector", "SshConnector"),
    ("xpm_nb.tokens", "CounterToken"),
    ("xpm_nb.launcherfinder.specs", "HostRequirement"),
    ("xpm_nb.launcherfinder.specs", "HostSpecification"),
    ("xpm_nb.launcherfinder.registry", "Host"),
    ("xpm_nb.launcherfinder.registry", "LauncherEntry"),
    ("xpm_nb.launcherfinder.registry", "LauncherRegistry"),
    ("xpm_nb.services", "Service"),
    ("xpm_nb.core.serialization", "ExperimentInfo"),
    ("xpm_nb.experiments.workspace_jobs", "ExperimentInfo"),
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

_registered: weakref.WeakSet = weakref.WeakSet()
# One live view per experiment: showing `xp` again adds a view of the same widget.
_experiment_views: dict[int, tuple[weakref.ref, Any]] = {}


def _shell():
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def register(ip=None) -> bool:
    """Register the formatters in shell ``ip`` (the running one by default); idempotent."""
    ip = ip if ip is not None else _shell()
    if ip is None:
        return False
    if ip in _registered:
        return True
    formatter = ip.display_formatter.mimebundle_formatter
    for module, name in TARGETS:
        formatter.for_type_by_name(module, name, mimebundle)
    _registered.add(ip)
    return True


def register_if_ipython() -> bool:
    """Register when an IPython shell runs; cheap and silent otherwise."""
    if "IPython" not in sys.modules:
        return False
    try:
        return register()
    except Exception:  # noqa: BLE001 - a display hook must never break `import xpm_nb`
        logger.debug("xpm_nb display registration failed", exc_info=True)
        return False


def unregister(ip=None) -> None:
    """Remove the formatters (objects show their plain ``repr`` again)."""
    ip = ip if ip is not None else _shell()
    if ip is None:
        return
    formatter = ip.display_formatter.mimebundle_formatter
    for module, name in TARGETS:
        formatter.deferred_printers.pop((module, name), None)
        for cls in list(formatter.type_printers):
            if cls.__module__ == module and cls.__name__ == name:
                formatter.type_printers.pop(cls, None)
    _registered.discard(ip)


def load_ipython_extension(ip) -> None:
    """``%load_ext xpm_nb.display``."""
    register(ip)


def widgets_enabled() -> bool:
    """Widgets need a kernel (a notebook front-end); ``XPM_NB_WIDGETS=0`` turns them off."""
    if os.environ.get("XPM_NB_WIDGETS", "1") == "0":
        return False
    ip = _shell()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _experiment_view(xp):
    entry = _experiment_views.get(id(xp))
    if entry is not None:
        ref, widget = entry
        if ref() is xp and widget.comm is not None:
            # Shown again: send its state now, in this cell, so front ends that
            # only record a cell's own messages (nbclient) save the current one.
            widget.flush()
            widget.send_state()
            return widget
    from .widgets.experiment_view import ExperimentView

    widget = ExperimentView(xp)
    _experiment_views[id(xp)] = (weakref.ref(xp), widget)
    return widget


def _parts(obj) -> tuple[str, str, Any]:
    """(html, text, widget factory or None) for a displayed object."""
    from .widgets import object_views

    card = object_views.render(obj)
    if card is not None:
        return card[0], card[1], None
    from .core.objects import ConfigMixin
    from .widgets import static

    if isinstance(obj, ConfigMixin):
        from .widgets.config_tree import job_of_config

        job = job_of_config(obj)
        return (static.config_html(obj, job), static.config_text(obj, job),
                lambda: _config_view(obj, job))
    from .scheduler.jobs import Job

    if isinstance(obj, Job):
        return (static.job_html(obj), static.job_text(obj),
                lambda: _config_view(obj.config, obj))
    return static.experiment_html(obj), static.experiment_text(obj), lambda: _experiment_view(obj)


def _config_view(config, job):
    from .widgets.config_view import ConfigView  # widgets load on the first widget shown

    return ConfigView(config, job=job)


def mimebundle(obj) -> dict:
    """The MIME bundle of ``obj``: widget view (in a kernel), ``text/html``, ``text/plain``."""
    try:
        html, text, make_widget = _parts(obj)
    except Exception:  # noqa: BLE001 - a display never breaks a cell: the plain repr shows
        logger.warning("xpm_nb: could not render %s", type(obj).__qualname__, exc_info=True)
        return {"text/plain": _plain_repr(obj)}
    data: dict[str, Any] = {"text/plain": text, "text/html": html}
    if make_widget is not None and widgets_enabled():
        try:
            widget = make_widget()
            view, _ = widget._repr_mimebundle_()
            data[WIDGET_MIME] = view[WIDGET_MIME]
        except Exception:  # noqa: BLE001 - no widget: the static parts still show
            logger.warning("xpm_nb: could not create the widget for %r", type(obj), exc_info=True)
    return data


def _plain_repr(obj) -> str:
    try:
        return repr(obj)
    except Exception:  # noqa: BLE001 - a broken __repr__ too
        return f"<{type(obj).__qualname__} object>"
