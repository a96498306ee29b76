"""Configurations of the serialization tests (importable by job processes)."""

from __future__ import annotations

from pathlib import Path

from xpm_nb import Config, DataPath, LightweightTask, Meta, Param, PathGenerator, Task, cache, field


class Model(Config):
    hidden: Param[int]
    weights: DataPath


class Outer(Config):
    model: Param[Model]
    lr: Param[float]
    items: Param[list[Model]]


class Scale(LightweightTask):
    """An init task: multiplies the model's size on the instance."""

    model: Param[Model]
    factor: Param[int]

    def execute(self):
        self.model.hidden = self.model.hidden * self.factor


class Vocabulary(Config):
    size: Param[int]

    @cache("vocab.txt")
    def build(self, path: Path) -> tuple[str, bool]:
        """Writes the vocabulary once; says whether it was already there."""
        existed = path.exists()
        if not existed:
            path.write_text(" ".join(str(i) for i in range(self.size)))
        return path.read_text(), existed


class Echo(Task):
    value: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("echo.txt"))

    def execute(self):
        self.out.write_text(str(self.value))


class Consumer(Task):
    model: Param[Model]
