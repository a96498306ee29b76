"""Tasks of the result-frame tests (importable by the job processes)."""

from __future__ import annotations

import time
from pathlib import Path

from xpm_nb import Config, Meta, Param, PathGenerator, Task, field


class Model(Config):
    hidden: Param[int]


class Train(Task):
    """Logs a loss per step; its score (from its output file) comes from results()."""

    model: Param[Model]
    lr: Param[float]
    steps: Param[int] = field(default=3)
    fail: Param[bool] = field(default=False)
    out: Meta[Path] = field(default_factory=PathGenerator("score.txt"))

    def execute(self):
        from xpm_nb import log_metrics, progress

        if self.fail:
            raise RuntimeError("diverged")
        for step in range(self.steps):
            log_metrics(step=step, loss=loss(self.model.hidden, self.lr, step))
            progress((step + 1) / self.steps)
        self.out.write_text(str(score(self.model.hidden, self.lr)))

    def results(self) -> dict:
        return {"score": float(self.out.read_text())}


def loss(hidden: int, lr: float, step: int) -> float:
    return hidden * lr / (step + 1)


def score(hidden: int, lr: float) -> float:
    return hidden + 10 * lr


class Gated(Task):
    """Logs step 0, waits for its gate file, then logs step 1 (a job the test drives)."""

    name: Param[str]
    gate: Meta[Path]

    def execute(self):
        from xpm_nb import log_metrics, progress

        log_metrics(step=0, loss=1.0)
        progress(0.5)
        deadline = time.time() + 120
        while not self.gate.exists():
            if time.time() > deadline:
                raise TimeoutError(f"gate {self.gate} never opened")
            time.sleep(0.02)
        log_metrics(step=1, loss=0.5, accuracy=0.9)
