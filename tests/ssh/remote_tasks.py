"""Tasks run on the "remote" host by the SSH tests (importable there through the
PYTHONPATH the connector sets, never through the local environment)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from xpm_nb import Config, Meta, Param, PathGenerator, Task, field


class Number(Config):
    value: Param[int]


class Emit(Task):
    """Writes its value; appends ``<value> <pid> <mark> <start> <end> <SLURM job>`` to ``log`` (counts runs)."""

    value: Param[int]
    log: Meta[Path]
    sleep: Meta[float] = field(default=0.0)
    out: Meta[Path] = field(default_factory=PathGenerator("value.txt"))

    def task_outputs(self, dep):
        return dep(Number.C(value=self.value))

    def execute(self):
        from xpm_nb import progress

        start = time.time()
        progress(0.5, desc="half")
        time.sleep(self.sleep)
        mark = os.environ.get("XPM_NB_TEST_MARK", "-")
        with open(self.log, "a") as f:
            slurm = os.environ.get("SLURM_JOB_ID", "-")
            f.write(f"{self.value} {os.getpid()} {mark} {start} {time.time()} {slurm}\n")
        print(f"emitting {self.value}")
        self.out.write_text(str(self.value))


class Sum(Task):
    """Sums its inputs; fails when asked to."""

    inputs: Param[list[Number]]
    fail: Param[bool] = field(default=False)
    out: Meta[Path] = field(default_factory=PathGenerator("sum.txt"))

    def execute(self):
        if self.fail:
            raise ValueError("asked to fail")
        self.out.write_text(str(sum(n.value for n in self.inputs)))
