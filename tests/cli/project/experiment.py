"""The experiment the CLI tests run (copied into a temporary folder by a fixture)."""

from __future__ import annotations

import time
from pathlib import Path

import attrs

from xpm_nb import Meta, Param, PathGenerator, Task, field, tag
from xpm_nb.experiments import ConfigurationBase, ExperimentHelper, configuration


@configuration
class Model:
    hidden: int = 4
    kind: str = "mlp"


@configuration
class Configuration(ConfigurationBase):
    lr: float = 0.001
    seeds: list[int] = attrs.field(factory=lambda: [1])
    model: Model = attrs.field(factory=Model)
    sleep: float = 0.0
    fail: bool = False
    flag: str = ""  # a file the jobs wait for (tests release them when they want)


class Train(Task):
    lr: Param[float]
    hidden: Param[int]
    kind: Param[str]
    seed: Param[int]
    sleep: Meta[float] = field(default=0.0)
    fail: Meta[bool] = field(default=False)
    flag: Meta[str] = field(default="")
    out: Meta[Path] = field(default_factory=PathGenerator("result.txt"))

    def execute(self):
        time.sleep(self.sleep)
        while self.flag and not Path(self.flag).exists():
            time.sleep(0.05)
        if self.fail:
            raise RuntimeError("asked to fail")
        self.out.write_text(f"{self.lr} {self.hidden} {self.kind} {self.seed}")


@ExperimentHelper.decorator
def run(helper: ExperimentHelper, cfg: Configuration):
    for seed in cfg.seeds:
        Train.C(lr=tag(cfg.lr), hidden=cfg.model.hidden, kind=tag(cfg.model.kind),
                seed=tag(seed), sleep=cfg.sleep, fail=cfg.fail, flag=cfg.flag).submit()
