"""Tasks of the run-mode tests (importable by the job processes)."""

from __future__ import annotations

from pathlib import Path

from xpm_nb import Meta, Param, PathGenerator, Task, field


class Step(Task):
    x: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("out.txt"))

    def execute(self):
        self.out.write_text(str(self.x))


class Use(Task):
    step: Param[Step]
    out: Meta[Path] = field(default_factory=PathGenerator("used.txt"))

    def execute(self):
        self.out.write_text(Path(self.step.out).read_text())
