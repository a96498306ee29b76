"""Tasks of the job-slot tests (importable by the job processes)."""

from __future__ import annotations

import time
from pathlib import Path

from xpm_nb import Meta, Param, Task


class GatedSpan(Task):
    """Runs until ``gate`` exists, then appends when it started and ended to ``log``
    (as ``tasks.Span``): a job known to be running for as long as a test needs."""

    index: Param[int]
    log: Meta[Path]
    gate: Meta[Path]

    def execute(self):
        start = time.time()
        while not self.gate.exists():
            time.sleep(0.02)
        with open(self.log, "a") as f:
            f.write(f"{self.index} {start} {time.time()}\n")
