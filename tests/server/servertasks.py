"""Tasks of the monitoring server tests (importable by the job processes)."""

from __future__ import annotations

import time
from pathlib import Path

from xpm_nb import Meta, Param, Task


class WaitFlag(Task):
    """Prints its value, then waits until the flag file exists."""

    x: Param[int]
    flag: Meta[Path]

    def execute(self):
        print(f"value {self.x}", flush=True)
        while not self.flag.exists():
            time.sleep(0.05)
