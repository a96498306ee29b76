"""Tasks that stop part way (imported by the job processes of test_params_static.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from xpm_nb import Meta, Param, Task, field


class HalfWay(Task):
    """Reports ``reached`` of its epochs, then fails (``gate`` None) or waits for ``gate``."""

    reached: Param[float]
    gate: Meta[Optional[Path]] = field(default=None)

    def execute(self):
        from xpm_nb import log_metrics, progress

        progress(self.reached, level=0, desc="epochs")
        log_metrics(step=1, loss=0.125 + self.reached)
        if self.gate is None:
            raise RuntimeError(f"stopped at {self.reached}")
        while not self.gate.exists():
            time.sleep(0.05)
