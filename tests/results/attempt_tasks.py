"""A task of the attempt tests (importable by the job processes)."""

from __future__ import annotations

from pathlib import Path

from xpm_nb import Meta, Param, Task


class Flaky(Task):
    """Logs two steps, then fails while its flag file is missing (run it again to finish)."""

    lr: Param[float]
    flag: Meta[Path]

    def execute(self):
        from xpm_nb import log_metrics

        second = self.flag.exists()
        for step in range(2):
            log_metrics(step=step, loss=(10.0 if second else 100.0) + step)
        if not second:
            raise RuntimeError("first attempt fails")
