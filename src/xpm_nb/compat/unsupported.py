"""Reference modules xpm_nb does not offer (mkdocs plugin, rpyc remote contexts).

Importing them and naming their contents works, so that packages which do so
at the top (datamaestro's ``site`` command) load; calling anything in them
raises a clear error.
"""

from __future__ import annotations

from ..errors import UnsupportedError


def _unsupported(name: str):
    def refuse(*args, **kwargs):
        msg = (f"{name}: this part of experimaestro (its mkdocs plugin, rpyc remote "
               "contexts) is not offered by xpm_nb; run it with the reference package "
               "(unset XPM_NB_EXPERIMAESTRO)")
        raise UnsupportedError(msg)

    return type(name, (), {"__new__": refuse, "__doc__": "Not offered by xpm_nb."})


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return _unsupported(name)
