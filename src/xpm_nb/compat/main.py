"""``python -m experimaestro`` and the ``experimaestro`` command, under the stand-in."""

import sys

from xpm_nb.cli import main  # absolute: runpy runs this file as experimaestro.__main__

__all__ = ["main", "cli"]

cli = main

if __name__ == "__main__":
    sys.exit(main())
