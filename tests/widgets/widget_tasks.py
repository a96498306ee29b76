"""Tasks of the widget tests (imported by the job processes too)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

from xpm_nb import Config, Meta, Param, Task, field


class Model(Config):
    hidden: Param[int]
    activation: Param[str] = field(default="relu", ignore_default=True)


class Steps(Task):
    """Reports progress on two levels, logs each step, then waits for a gate file."""

    model: Param[Model]
    outer: Param[int] = field(default=2)
    inner: Param[int] = field(default=3)
    pause: Meta[float] = field(default=0.12)
    gate: Meta[Optional[Path]]

    def execute(self):
        from xpm_nb import progress

        for i in range(self.outer):
            progress(i / self.outer, level=0, desc="epochs")
            for j in range(self.inner):
                progress((j + 1) / self.inner, level=1, desc="batches")
                print(f"step {i}.{j}", file=sys.stderr, flush=True)
                time.sleep(self.pause)
        progress(1.0, level=0, desc="epochs")
        while self.gate is not None and not self.gate.exists():
            time.sleep(0.05)


class Fail(Task):
    """Fails with a message in its log."""

    code: Param[int] = field(default=0)

    def execute(self):
        print("about to fail", file=sys.stderr, flush=True)
        raise RuntimeError(f"boom {self.code}")


class Curves(Task):
    """Logs metrics only (no progress bar): loss and accuracy at each step.

    With ``gate``, stops after ``hold`` steps until the gate file exists.
    """

    lr: Param[float]
    steps: Param[int] = field(default=4)
    hold: Meta[int] = field(default=0)
    pause: Meta[float] = field(default=0.02)
    gate: Meta[Optional[Path]]

    def execute(self):
        from xpm_nb import log_metrics

        for step in range(self.steps):
            if step == self.hold and self.gate is not None:
                while not self.gate.exists():
                    time.sleep(0.02)
            log_metrics(step=step, loss=1.0 / (1 + step * self.lr), accuracy=step * self.lr / 10)
            time.sleep(self.pause)
        print("curves done", flush=True)  # stdout only: the log panel opens on it
