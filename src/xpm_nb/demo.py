"""The demo experiment: ``python -m xpm_nb.demo [WORKSPACE]``.

A small grid on the embedded default (a local workspace, the direct
launcher): Monte Carlo estimates of pi with tagged sample sizes and seeds,
each followed by an evaluation task that depends on it. Run it twice: the
second run finds every job done and computes nothing.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

from xpm_nb import Config, Meta, Param, PathGenerator, Task, field, tag
from xpm_nb.run.progress import progress


class Sampler(Config):
    """How points are drawn."""

    n: Param[int]
    seed: Param[int] = field(default=0)


class EstimatePi(Task):
    """Estimate pi from random points in the unit square."""

    sampler: Param[Sampler]
    result: Meta[Path] = field(default_factory=PathGenerator("estimate.json"))

    def task_outputs(self, dep):
        return dep(Estimate.C(path=self.result))

    def execute(self):
        rng = random.Random(self.sampler.seed)
        inside = 0
        for i in range(self.sampler.n):
            x, y = rng.random(), rng.random()
            inside += x * x + y * y <= 1
            if i % 10_000 == 0:
                progress(i / self.sampler.n, desc="sampling")
        self.result.write_text(json.dumps({"pi": 4 * inside / self.sampler.n}))


class Estimate(Config):
    """An estimate written by EstimatePi."""

    path: Param[Path]


class Evaluate(Task):
    """Compare an estimate with math.pi."""

    estimate: Param[Estimate]
    report: Meta[Path] = field(default_factory=PathGenerator("error.json"))

    def execute(self):
        pi = json.loads(self.estimate.path.read_text())["pi"]
        self.report.write_text(json.dumps({"pi": pi, "error": abs(pi - math.pi)}))


def main(argv: list[str] | None = None) -> int:
    from xpm_nb import experiment

    argv = sys.argv[1:] if argv is None else argv
    workdir = Path(argv[0] if argv else "demo-workspace").absolute()
    start = time.time()
    evaluations = []
    with experiment(workdir, "demo") as xp:
        for n in (1_000, 10_000, 100_000):
            for seed in (1, 2):
                estimate = EstimatePi.C(sampler=Sampler.C(n=tag(n), seed=tag(seed))).submit()
                evaluations.append(Evaluate.C(estimate=estimate).submit())
    print(f"{len(xp.jobs)} jobs finished in {time.time() - start:.1f} s, workspace {workdir}")
    print(f"{'n':>8} {'seed':>5} {'pi':>10} {'error':>10}")
    for evaluation in evaluations:
        tags = evaluation.tags()
        report = json.loads(evaluation.report.read_text())
        print(f"{tags['n']:>8} {tags['seed']:>5} {report['pi']:>10.5f} {report['error']:>10.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
