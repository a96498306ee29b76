"""Read by ``xpm_nb_experimaestro.pth`` at interpreter start when
``XPM_NB_EXPERIMAESTRO=1``: a finder that loads xpm_nb's stand-in for
experimaestro (``xpm_nb.compat``) only when ``experimaestro`` is first imported.

Importing xpm_nb itself at interpreter start would come before IPython exists
in a kernel, and xpm_nb registers its rich display with IPython when it is
imported: the views would show as plain text. Standard library only.
"""

import sys


class _LoadStandIn:
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "experimaestro" and not fullname.startswith("experimaestro."):
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import xpm_nb.compat  # installs the stand-in's finder, first in sys.meta_path

        return xpm_nb.compat.finder.ExperimaestroFinder().find_spec(fullname, path, target)


def run() -> None:
    sys.meta_path.insert(0, _LoadStandIn())
