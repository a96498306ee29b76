"""``python -m xpm_nb ARGS``: the ``xpm-nb`` command line (as ``python -m experimaestro``
runs the reference's), for an environment whose scripts folder is not on PATH."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
