"""xpm_nb standing in for experimaestro: ``import experimaestro`` loads xpm_nb.

Opt-in, for projects and libraries written against experimaestro (datamaestro
datasets, xpm-mlboard services, xpmir-style configurations). Either

- ``import xpm_nb.compat`` before anything imports ``experimaestro`` (the first
  cell of a notebook), or
- set ``XPM_NB_EXPERIMAESTRO=1`` in the environment: the ``.pth`` file the
  package installs imports this module when Python starts, so scripts,
  ``python -m experimaestro ...`` and the ``experimaestro`` command all run
  xpm_nb, even where the reference package is installed too.

Then ``experimaestro.Config is xpm_nb.Config``: the ecosystem's classes are
xpm_nb configurations, with the reference's identifiers (same job folders).
What each ``experimaestro`` module path offers is one table,
:data:`xpm_nb.compat.finder.SHIMS`.
"""

from .finder import SHIMS, install, installed, uninstall

__all__ = ["SHIMS", "install", "installed", "uninstall"]

install()
