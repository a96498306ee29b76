"""Tasks of the command-launcher tests (importable by the job processes)."""

from __future__ import annotations

import os
from pathlib import Path

from xpm_nb import Meta, Param, Task


class Niceness(Task):
    """Records the niceness it runs at, and fails unless it is ``expected``."""

    expected: Param[int]
    out: Meta[Path]

    def execute(self):
        niceness = os.nice(0)
        self.out.write_text(str(niceness))
        if niceness != self.expected:
            raise ValueError(f"running at niceness {niceness}, expected {self.expected}")


class PidAndEnv(Task):
    """Records its pid and the environment variable ``name``."""

    name: Param[str]
    out: Meta[Path]

    def execute(self):
        self.out.write_text(f"{os.getpid()} {os.environ.get(self.name, '')}")
