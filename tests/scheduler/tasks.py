"""Tasks used by the scheduler tests (importable by the job processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from xpm_nb import (
    Config,
    LightweightTask,
    Meta,
    Param,
    PathGenerator,
    ResumableTask,
    Task,
    field,
)


class Counter(Config):
    value: Param[int]


class Write(Task):
    """Writes its value, and appends a line to a shared log (counts runs)."""

    value: Param[int]
    log: Meta[Path]
    sleep: Meta[float] = field(default=0.0)
    out: Meta[Path] = field(default_factory=PathGenerator("value.txt"))

    def task_outputs(self, dep):
        return dep(Counter.C(value=self.value))

    def execute(self):
        time.sleep(self.sleep)
        with open(self.log, "a") as f:
            f.write(f"{self.value} {os.getpid()}\n")
        self.out.write_text(str(self.value))


class Add(Task):
    """Adds the values of its inputs; fails when asked to."""

    inputs: Param[list[Counter]]
    fail: Param[bool] = field(default=False)
    out: Meta[Path] = field(default_factory=PathGenerator("sum.txt"))

    def execute(self):
        if self.fail:
            raise ValueError("asked to fail")
        self.out.write_text(str(sum(c.value for c in self.inputs)))


class Sleep(Task):
    seconds: Param[float]

    def execute(self):
        time.sleep(self.seconds)


class Report(Task):
    """Reports progress with progress() and tqdm, and a metric."""

    steps: Param[int]

    def execute(self):
        from xpm_nb import log_metrics, progress, tqdm

        for i in tqdm(range(self.steps), desc="steps"):
            log_metrics(step=i, loss=1.0 / (i + 1))
        progress(1.0, level=0, desc="done")


class Checkpoint(Config):
    """A dynamic output: the checkpoint of a training at a step."""

    step: Param[int]


class Train(Task):
    """Registers a checkpoint output at each step and reports progress slowly."""

    steps: Param[int]
    pause: Meta[float] = field(default=0.2)

    def checkpoint(self, step: int):
        return Checkpoint.C(step=step)

    def execute(self):
        from xpm_nb import progress

        for step in range(self.steps):
            progress((step + 1) / self.steps, level=0, desc="train")
            self.register_task_output(self.checkpoint, step)
            time.sleep(self.pause)


class WaitForFile(Task):
    """Runs until a file exists (lets a test act on a job known to be running)."""

    path: Meta[Path]

    def execute(self):
        while not self.path.exists():
            time.sleep(0.05)


class Interval(Task):
    """Records when it ran (start and end times) in a shared log, holding a token."""

    name: Param[str]
    log: Meta[Path]
    seconds: Meta[float] = field(default=0.3)

    def execute(self):
        start = time.time()
        time.sleep(self.seconds)
        with open(self.log, "a") as f:
            f.write(f"{self.name} {start} {time.time()}\n")


class Resumable(ResumableTask):
    """Does one step per run, then asks to be retried, until ``steps`` are done."""

    steps: Param[int]
    checkpoint: Meta[Path] = field(default_factory=PathGenerator("checkpoint.txt"))

    def execute(self):
        from xpm_nb import GracefulTimeout

        done = int(self.checkpoint.read_text()) if self.checkpoint.exists() else 0
        done += 1
        self.checkpoint.write_text(str(done))
        if done < self.steps:
            raise GracefulTimeout(f"stopping after step {done}")


class SetEnvInit(LightweightTask):
    """An init task: writes a marker the main task reads."""

    marker: Meta[Path]
    text: Param[str]

    def execute(self):
        self.marker.write_text(self.text)


class ReadMarker(Task):
    marker: Meta[Path]
    out: Meta[Path] = field(default_factory=PathGenerator("copy.txt"))

    def execute(self):
        self.out.write_text(self.marker.read_text())


class Weights(Config):
    size: Param[int]


class LoadWeights(LightweightTask):
    """An init task that changes the model object the main task then uses."""

    model: Param[Weights]

    def execute(self):
        self.model.loaded = f"weights of size {self.model.size}"


class UseWeights(Task):
    model: Param[Weights]
    out: Meta[Path] = field(default_factory=PathGenerator("used.txt"))

    def execute(self):
        self.out.write_text(getattr(self.model, "loaded", "not loaded"))


class Span(Task):
    """Appends when its work started and ended to a shared log (to measure overlap)."""

    index: Param[int]
    log: Meta[Path]
    sleep: Meta[float] = field(default=0.3)

    def execute(self):
        start = time.time()
        time.sleep(self.sleep)
        with open(self.log, "a") as f:
            f.write(f"{self.index} {start} {time.time()}\n")
