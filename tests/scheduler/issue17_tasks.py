"""Tasks of ``test_issue17_*.py`` (importable by the job processes)."""

from __future__ import annotations

import time
from pathlib import Path

from xpm_nb import Config, Meta, Param, Prepare, ResumableTask, Task, field


class Step(Config):
    step: Param[int]


class DepTrain(ResumableTask):
    """Registers outputs made by a method taking the ``dep`` marker (the reference's form)."""

    steps: Param[int]

    def checkpoint(self, dep, step: int):
        return dep(Step.C(step=step))

    def execute(self):
        for step in range(self.steps):
            self.register_task_output(self.checkpoint, step)
            time.sleep(0.05)


class FailOnce(ResumableTask):
    """Fails while ``flag`` does not exist; appends a line to ``log`` at each run."""

    name: Param[str]
    flag: Meta[Path]
    log: Meta[Path]

    def execute(self):
        with self.log.open("a") as f:
            f.write("run\n")
        if not self.flag.exists():
            raise RuntimeError("asked to fail")


class Download(Prepare):
    """A Prepare whose ``prepare()`` appends a line to ``log`` (in the driver)."""

    name: Param[str]
    log: Meta[Path]

    def prepare(self, *args, **kwargs):
        with self.log.open("a") as f:
            f.write(f"prepare {self.name}\n")
        return self


class CheckedDownload(Download):
    """A Prepare that knows when it is done: ``marker`` exists."""

    marker: Meta[Path]

    def is_prepared(self) -> bool:
        return self.marker.exists()

    def prepare(self, *args, **kwargs):
        super().prepare()
        self.marker.write_text("done")


class UseData(Task):
    """Checks that its data was prepared before it runs."""

    data: Param[Download]
    variant: Param[int] = field(default=0)

    def execute(self):
        lines = self.data.log.read_text().splitlines()
        assert f"prepare {self.data.name}" in lines, lines


class UseStep(Task):
    step: Param[Step]

    def execute(self):
        pass
