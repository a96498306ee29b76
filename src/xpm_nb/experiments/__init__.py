"""Experiments described by YAML files, run from a terminal or a notebook.

- :class:`ConfigurationBase` and :func:`configuration`: the typed content of an
  experiment's YAML file (``configuration.py``);
- :class:`ExperimentHelper` and :func:`run_experiment`: load the files, import the
  experiment module and call its ``run(helper, configuration)`` (``cli.py``);
- the command line ``xpm-nb run-experiment CONFIG.yaml [KEY=VALUE ...]``
  (``xpm_nb/cli.py``), whose ``jobs`` and ``experiments`` commands read the
  workspace with ``workspace_jobs.py`` and ``jobfilter.py``.

Imported eagerly: the function ``configuration`` must win over the submodule of
the same name (as in the reference).
"""

from __future__ import annotations

from .cli import ExperimentHelper, LoadedExperiment, load_experiment, run_experiment
from .configuration import MISSING, ConfigurationBase, DirtyGitAction, configuration

__all__ = [
    "MISSING",
    "ConfigurationBase",
    "DirtyGitAction",
    "ExperimentHelper",
    "LoadedExperiment",
    "configuration",
    "load_experiment",
    "run_experiment",
]
