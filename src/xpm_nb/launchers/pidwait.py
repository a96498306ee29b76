"""Moved to :mod:`xpm_nb.process.pidwait` (connectors use it too); kept at its old name."""

from ..process.pidwait import PidWatch, wait_exit

__all__ = ["PidWatch", "wait_exit"]
