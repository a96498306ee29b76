"""xpm_nb: a Jupyter-native experiment manager implementing the experimaestro API.

The configuration core is imported eagerly (it is small and stdlib-only); the
scheduler, launchers, widgets, result frames and serialization load on first
use through the module ``__getattr__``, so ``import xpm_nb`` stays light.
"""

from __future__ import annotations

import importlib

from .core.arguments import (
    Constant,
    DataPath,
    Meta,
    Option,
    OptionalDataPath,
    Param,
    ParameterGroup,
    Partial,
    field,
    param_group,
    partial,
)
from .core.decorators import cache, deprecate, initializer, sealed_set, setmeta
from .core.objects import (
    Config,
    ConfigMixin,
    DependentMarker,
    InstanceConfig,
    LightweightTask,
    Prepare,
    ResumableTask,
    Task,
)
from .core.pathgen import PathGenerator
from .core.tags import TagDict, tag, tags, tagspath
from .core.types import SubmitHook
from .core.xpmtype import Identifier
from .errors import GracefulTimeout

__version__ = "0.1.0"

# name -> module, loaded on first access
_LAZY = {
    "experiment": "xpm_nb.scheduler.experiment",
    "Workspace": "xpm_nb.scheduler.workspace",
    "RunMode": "xpm_nb.scheduler.workspace",
    "WorkspaceSettings": "xpm_nb.scheduler.workspace",
    "TransientMode": "xpm_nb.scheduler.workspace",
    "Job": "xpm_nb.scheduler.jobs",
    "JobState": "xpm_nb.scheduler.jobs",
    "Launcher": "xpm_nb.launchers",
    "progress": "xpm_nb.run.progress",
    "tqdm": "xpm_nb.run.progress",
    "log_metrics": "xpm_nb.run.progress",
    "results": "xpm_nb.results",
    "browse": "xpm_nb.widgets.browse",
    "save": "xpm_nb.core.serialization",
    "load": "xpm_nb.core.serialization",
    "serialize": "xpm_nb.core.serialization",
    "deserialize": "xpm_nb.core.serialization",
    "from_task_dir": "xpm_nb.core.serialization",
    "state_dict": "xpm_nb.core.serialization",
    "from_state_dict": "xpm_nb.core.serialization",
    "SerializationContext": "xpm_nb.core.serialization",
    "SerializedPath": "xpm_nb.core.serialization",
    "load_xp_info": "xpm_nb.core.serialization",
    "ExperimentInfo": "xpm_nb.core.serialization",
}

__all__ = [
    "Config",
    "ConfigMixin",
    "Constant",
    "DataPath",
    "DependentMarker",
    "GracefulTimeout",
    "Identifier",
    "InstanceConfig",
    "LightweightTask",
    "Meta",
    "Option",
    "OptionalDataPath",
    "Param",
    "ParameterGroup",
    "Partial",
    "PathGenerator",
    "Prepare",
    "ResumableTask",
    "SubmitHook",
    "TagDict",
    "Task",
    "cache",
    "deprecate",
    "field",
    "initializer",
    "param_group",
    "partial",
    "sealed_set",
    "setmeta",
    "tag",
    "tags",
    "tagspath",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'xpm_nb' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(__all__) | set(_LAZY))


def _register_display() -> None:
    # Rich display of configs, jobs and experiments (xpm_nb.display) when IPython
    # is already loaded; costs nothing elsewhere (the formatters load nothing).
    import sys

    if "IPython" in sys.modules:
        from .display import register_if_ipython

        register_if_ipython()


_register_display()
