"""A datamaestro dataset: points on a line, written by a custom download."""

import os
import random
from pathlib import Path

from datamaestro import Base
from datamaestro.data.ml import Supervised
from datamaestro.definitions import AbstractDataset, dataset
from datamaestro.download.custom import custom_download
from experimaestro import Meta, Param


class Points(Base):
    path: Meta[Path]
    train: Param[bool]

    def load(self) -> list[tuple[float, float]]:
        rows = self.path.read_text().splitlines()
        return [tuple(float(v) for v in row.split(",")) for row in rows]


def make_points(context, root: Path, force=False):
    # TOYXP_POINTS is set by the CI's pre_experiment file (a smaller dataset).
    size = int(os.environ.get("TOYXP_POINTS", "200"))
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for name in ("train", "test"):
        lines = []
        for _ in range(size):
            x = rng.uniform(-1, 1)
            lines.append(f"{x},{3 * x + 0.5 + rng.gauss(0, 0.1)}")
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n")


@dataset(id="org.example.toyxp.points")
class ToyPoints(Supervised[Points, None, Points]):
    """Noisy points of y = 3x + 0.5."""

    ROOT = custom_download("root", make_points)

    @classmethod
    def __create_dataset__(cls, dataset: AbstractDataset):
        root = cls.ROOT.prepare()
        return cls.C(
            train=Points.C(path=root / "train.csv", train=True),
            test=Points.C(path=root / "test.csv", train=False),
        )
