"""Result frames: ``xpm_nb.results(source)`` gives a pandas DataFrame indexed by tags.

Modules: ``sources`` (which jobs: an experiment, a workspace, a list),
``scan`` (what their folders say, read incrementally), ``taskresults``
(``Task.results()`` of done jobs), ``frame`` (the pandas frames; pandas is
imported only there, when a frame is built).
"""

from __future__ import annotations

import sys
import types

from .frame import FIXED_COLUMNS, HISTORY_COLUMNS, results
from .scan import clear_caches
from .taskresults import ResultsWarning

__all__ = ["results", "clear_caches", "ResultsWarning", "FIXED_COLUMNS", "HISTORY_COLUMNS"]


class _CallableModule(types.ModuleType):
    """This package is also the function: ``xpm_nb.results(...)`` works either way.

    Importing ``xpm_nb.results.<submodule>`` makes ``xpm_nb.results`` this
    package rather than the function; calling the package calls the function.
    """

    def __call__(self, *args, **kwargs):
        return results(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
