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


class Curve(Task):
    """Logs ``loss`` for steps 0 and 1, waits for the flag file, then logs step 2."""

    lr: Param[float]
    flag: Meta[Path]

    def execute(self):
        from xpm_nb import log_metrics

        for step in range(3):
            if step == 2:
                while not self.flag.exists():
                    time.sleep(0.05)
            log_metrics(step=step, loss=1.0 / (1 + step * self.lr))
