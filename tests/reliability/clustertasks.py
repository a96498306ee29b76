"""Tasks of the cluster faults (``test_rel_clusters.py``), importable by the job
processes that SLURM and the SSH host start (this folder is on their ``PYTHONPATH``).

Every run appends one line ``<tag> <pid> <SLURM job id or -> <time>`` to
``runs.log`` in its job folder, so a test counts the runs of a job and tells
which SLURM job (or process) ran it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from reltasks import append_line

from xpm_nb import Config, Meta, Param, PathGenerator, Task, field


def _run_line(path: Path, tag: str) -> None:
    append_line(path, f"{tag} {os.getpid()} {os.environ.get('SLURM_JOB_ID', '-')} {time.time()}")


def runs_of(job_path: Path) -> list[list[str]]:
    """The lines of a job's ``runs.log`` (one per run), split."""
    log = Path(job_path) / "runs.log"
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


class Value(Config):
    value: Param[int]


class Sleep(Task):
    """Logs its run, sleeps ``seconds`` (less if a file ``release`` appears in its job
    folder), then writes its value (an output for others)."""

    value: Param[int]
    seconds: Meta[float] = field(default=0.0)
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))
    out: Meta[Path] = field(default_factory=PathGenerator("value.txt"))

    def task_outputs(self, dep):
        return dep(Value.C(value=self.value))

    def execute(self):
        _run_line(self.runs, "run")
        deadline = time.monotonic() + self.seconds
        release = self.runs.parent / "release"
        while time.monotonic() < deadline and not release.exists():
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self.out.write_text(str(self.value))


class Total(Task):
    """Adds the values it is given (the outputs of other tasks); logs its run."""

    inputs: Param[list[Value]]
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))
    out: Meta[Path] = field(default_factory=PathGenerator("total.txt"))

    def execute(self):
        _run_line(self.runs, "run")
        self.out.write_text(str(sum(v.value for v in self.inputs)))


class HardExit(Task):
    """Logs its run, then ``os._exit(code)``: no marker, only SLURM knows the code."""

    code: Param[int]
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))

    def execute(self):
        _run_line(self.runs, "run")
        os._exit(self.code)


class Blob(Task):
    """A task whose ``params.json`` is as large as ``blob`` (a slow upload)."""

    blob: Param[str]
    seconds: Meta[float] = field(default=0.0)
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))
    out: Meta[Path] = field(default_factory=PathGenerator("size.txt"))

    def execute(self):
        _run_line(self.runs, "run")
        time.sleep(self.seconds)
        self.out.write_text(str(len(self.blob)))


class Raise(Task):
    """Logs its run, then raises: the job writes its own ``.failed``."""

    value: Param[int]
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))

    def execute(self):
        _run_line(self.runs, "run")
        raise ValueError(f"task {self.value} asked to fail")


class Stubborn(Task):
    """Logs its run and ignores SIGTERM (so SLURM must SIGKILL it: no marker is written).
    Its first run sleeps ``seconds`` (long enough to be killed), later runs end at once."""

    value: Param[int]
    seconds: Meta[float] = field(default=0.0)
    runs: Meta[Path] = field(default_factory=PathGenerator("runs.log"))

    def execute(self):
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        first = not self.runs.exists()
        _run_line(self.runs, "run")
        if first:
            time.sleep(self.seconds)
