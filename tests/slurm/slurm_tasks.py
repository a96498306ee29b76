"""Tasks run through the test SLURM cluster (importable by the job processes)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from xpm_nb import Config, GracefulTimeout, Meta, Param, PathGenerator, ResumableTask, Task, field


class Number(Config):
    value: Param[int]


def _where() -> dict:
    """What the job process knows of the SLURM job it runs in (an array task: its
    ``<array>_<index>`` id as ``slurm_array_id``)."""
    where = {"slurm_job_id": os.environ.get("SLURM_JOB_ID"), "pid": os.getpid()}
    if os.environ.get("SLURM_ARRAY_TASK_ID"):
        where["slurm_array_id"] = (f"{os.environ['SLURM_ARRAY_JOB_ID']}_"
                                   f"{os.environ['SLURM_ARRAY_TASK_ID']}")
    return where


class Produce(Task):
    """Writes its value; its output is a Number for the tasks that use it."""

    value: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("value.json"))

    def task_outputs(self, dep):
        return dep(Number.C(value=self.value))

    def execute(self):
        self.out.write_text(json.dumps({"value": self.value, **_where()}))


class Relay(Task):
    """Passes its input's value on (a grid's second level: its output is a Number too)."""

    input: Param[Number]
    out: Meta[Path] = field(default_factory=PathGenerator("relay.json"))

    def task_outputs(self, dep):
        return dep(Number.C(value=self.input.value))

    def execute(self):
        self.out.write_text(json.dumps({"value": self.input.value, **_where()}))


class MaybeFail(Task):
    """Like Produce, but fails (exit code 3) when ``fail`` is set."""

    value: Param[int]
    fail: Param[bool] = field(default=False)

    def task_outputs(self, dep):
        return dep(Number.C(value=self.value))

    def execute(self):
        if self.fail:
            raise SystemExit(3)


class Sum(Task):
    """Adds the values of the Numbers it is given (the outputs of other tasks)."""

    inputs: Param[list[Number]]
    out: Meta[Path] = field(default_factory=PathGenerator("sum.json"))

    def execute(self):
        total = sum(n.value for n in self.inputs)
        self.out.write_text(json.dumps({"value": total, **_where()}))


class Exit(Task):
    """Ends with an exit code: through SystemExit (the job writes its marker), or
    ``os._exit`` (no marker: only SLURM knows the code)."""

    code: Param[int]
    hard: Param[bool] = field(default=False)

    def execute(self):
        if self.hard:
            os._exit(self.code)
        raise SystemExit(self.code)


class Wait(Task):
    """Writes a started marker, then sleeps (for cancellation tests)."""

    seconds: Param[float]
    tag: Param[str] = field(default="")
    started: Meta[Path] = field(default_factory=PathGenerator("started.json"))

    def execute(self):
        self.started.write_text(json.dumps(_where()))
        time.sleep(self.seconds)


class UntilTimeLimit(ResumableTask):
    """First run: checkpoints, then works until SLURM stops it at its time limit.

    Next run: finds the checkpoint and finishes. Every run appends what it saw
    (``remaining_time()``, SLURM job id) to ``runs.jsonl``.
    """

    name: Param[str]
    checkpoint: Meta[Path] = field(default_factory=PathGenerator("checkpoint.json"))
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.jsonl"))
    out: Meta[Path] = field(default_factory=PathGenerator("result.txt"))

    def execute(self):
        with self.runs.open("a") as f:
            f.write(json.dumps({"remaining": self.remaining_time(), **_where()}) + "\n")
        if self.checkpoint.exists():
            step = json.loads(self.checkpoint.read_text())["step"]
            self.out.write_text(f"resumed from step {step}")
            return
        self.checkpoint.write_text(json.dumps({"step": 1}))
        while True:  # until SLURM's time limit
            time.sleep(0.5)


class StopBeforeLimit(ResumableTask):
    """Stops with GracefulTimeout when its time limit is too short to finish.

    ``needs`` seconds of work; each run does what fits before the limit (here:
    one step, then stops), checkpointing, and the last run finishes.
    """

    needs: Param[float]
    steps: Param[int] = field(default=2)
    checkpoint: Meta[Path] = field(default_factory=PathGenerator("checkpoint.json"))
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.jsonl"))

    def execute(self):
        remaining = self.remaining_time()
        with self.runs.open("a") as f:
            f.write(json.dumps({"remaining": remaining, **_where()}) + "\n")
        done = json.loads(self.checkpoint.read_text())["done"] if self.checkpoint.exists() else 0
        done += 1
        self.checkpoint.write_text(json.dumps({"done": done}))
        if done < self.steps and remaining is not None and remaining < self.needs:
            raise GracefulTimeout(f"{remaining:.0f} s left, {self.needs} s needed")


class Counted(Task):
    """Appends what it runs in to ``runs.jsonl`` (one line per run), then sleeps."""

    name: Param[str]
    seconds: Param[float]
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.jsonl"))

    def execute(self):
        with self.runs.open("a") as f:
            f.write(json.dumps(_where()) + "\n")
        time.sleep(self.seconds)
